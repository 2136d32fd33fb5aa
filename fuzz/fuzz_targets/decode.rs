#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = banwatch::fail2ban::pickle::scan(data);
    let _ = banwatch::fail2ban::pickle::decode_str_list(data);
    if let Ok(Some((value, _))) = banwatch::fail2ban::pickle::decode(data) {
        let _ = value.to_json();
        let _ = banwatch::fail2ban::replies::envelope(value);
    }
});
