#![no_main]
use banwatch::fail2ban::pickle::{decode, scan, scan_from, StrListReader};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Framing in two reads ends where framing in one does.
    let whole = scan(data);
    let mut resume = 0;
    let _ = scan_from(&data[..data.len() / 2], &mut resume);
    if let (Ok(whole), Ok(split)) = (&whole, scan_from(data, &mut resume)) {
        assert_eq!(*whole, split);
    }
    if let Ok(mut reader) = StrListReader::new(data) {
        while let Ok(Some(_)) = reader.next(data) {}
    }
    if let Ok(Some((value, _))) = decode(data) {
        let _ = banwatch::pyjson::to_json(&value);
        let _ = banwatch::fail2ban::envelope(value);
    }
});
