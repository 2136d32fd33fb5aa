#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = banwatch::fail2ban::pickle::scan(data);
    if let Ok(mut reader) = banwatch::fail2ban::pickle::StrListReader::new(data) {
        while let Ok(Some(_)) = reader.next(data) {}
    }
    if let Ok(Some((value, _))) = banwatch::fail2ban::pickle::decode(data) {
        let _ = value.to_json();
        let _ = banwatch::fail2ban::replies::envelope(value);
    }
});
