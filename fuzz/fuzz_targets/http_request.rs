#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Parse a pipelined stream the way a connection does: request after request.
    let mut rest = data;
    while let Ok(Some((req, used))) = banwatch::parse_request(rest) {
        let _ = (req.path(), req.query(), req.is_head());
        rest = &rest[used.max(1).min(rest.len())..];
    }
});
