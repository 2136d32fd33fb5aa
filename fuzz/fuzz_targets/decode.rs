#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(Some((value, _))) = banwatch::fail2ban::pickle::decode(data) {
        let _ = value.to_json();
        let _ = banwatch::fail2ban::replies::envelope(value);
    }
});
