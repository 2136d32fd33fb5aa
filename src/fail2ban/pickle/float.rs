//! Decimal text to double and back, exactly as CPython does it, without core's float parsing
//! and formatting (dec2flt, flt2dec): their tables and three algorithms cost ~39 KB of the
//! size-optimised binary (issue 14), for two rare paths: a protocol-0 `FLOAT` opcode (fail2ban
//! never sends one) and a float in `banwatch query`'s output. So both here are exact and slow.
//!
//! `parse` reads what CPython's unpickler reads (`PyOS_string_to_double`): a sign, digits with
//! an optional `.` and exponent, or `inf`/`infinity`/`nan` in any case. It divides big integers
//! and rounds half to even, and refuses a finite value too large for a double, as CPython does
//! (OverflowError). `repr` writes `repr(float)`: the shortest digits that read back as the same
//! double, of those the closest to it (Steele & White's free format, as Gay's dtoa in CPython),
//! in Python's layout (`1e+16`, `1e-05`, `0.0001`, `-0.0`).
//!
//! `Big` is an unsigned integer in a fixed array of `LIMBS` limbs: `MAX_TEXT` and the early
//! zero and overflow answers keep every number both algorithms build below `LIMBS` limbs.

use std::cmp::Ordering;

/// Longest float text `parse` reads: `repr` of a double is at most 24 characters
/// (`-2.2250738585072014e-308`), and protocol 0 writes `repr` (Python 2 too).
pub const MAX_TEXT: usize = 64;

/// 32-bit limbs of a `Big`. The largest number is `parse`'s divisor shifted for the quotient's
/// bits: at most 10^388 (64 digits below 1e-324 are zero) times 2^55, under 1,350 bits; `repr`
/// needs at most 10 * 2^1076 (for 5e-324).
const LIMBS: usize = 48;

/// Most significant digits of a double's shortest repr.
const MAX_DIGITS: usize = 17;

const HIDDEN_BIT: u64 = 1 << 52;

/// An unsigned integer, little-endian limbs; `len` limbs are in use (no leading zero limb), the
/// others are zero.
#[derive(Clone, Copy)]
struct Big {
    len: usize,
    limbs: [u32; LIMBS],
}

impl Big {
    fn new(n: u64) -> Self {
        let mut limbs = [0; LIMBS];
        (limbs[0], limbs[1]) = (n as u32, (n >> 32) as u32);
        let mut b = Big { len: 2, limbs };
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.len > 0 && self.limbs[self.len - 1] == 0 {
            self.len -= 1;
        }
    }

    fn is_zero(&self) -> bool {
        self.len == 0
    }

    fn bits(&self) -> i32 {
        match self.len {
            0 => 0,
            n => 32 * n as i32 - self.limbs[n - 1].leading_zeros() as i32,
        }
    }

    /// `self * m + add`.
    fn mul_add(&mut self, m: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in &mut self.limbs[..self.len] {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.limbs[self.len] = carry as u32;
            self.len += 1;
        }
    }

    fn shl(&mut self, n: u32) {
        if self.is_zero() {
            return;
        }
        let (words, bits) = ((n / 32) as usize, n % 32);
        let old = self.len;
        self.len = old + words + 1;
        self.limbs[old + words] = 0;
        for i in (0..old).rev() {
            let v = u64::from(self.limbs[i]) << bits;
            self.limbs[i + words + 1] |= (v >> 32) as u32;
            self.limbs[i + words] = v as u32;
        }
        self.limbs[..words].fill(0);
        self.trim();
    }

    fn add(&mut self, other: &Big) {
        let mut carry = 0u64;
        self.len = self.len.max(other.len) + 1;
        for i in 0..self.len {
            let v = u64::from(self.limbs[i]) + u64::from(other.limbs[i]) + carry;
            self.limbs[i] = v as u32;
            carry = v >> 32;
        }
        self.trim();
    }

    /// `self - other`, which is not larger than `self`.
    fn sub(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for i in 0..self.len {
            let v = i64::from(self.limbs[i]) - i64::from(other.limbs[i]) - borrow;
            self.limbs[i] = v as u32;
            borrow = i64::from(v < 0);
        }
        self.trim();
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.len.cmp(&other.len).then_with(|| {
            (0..self.len)
                .rev()
                .map(|i| self.limbs[i].cmp(&other.limbs[i]))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        })
    }

    fn sum_cmp(&self, add: &Big, other: &Big) -> Ordering {
        let mut sum = *self;
        sum.add(add);
        sum.cmp(other)
    }
}

/// The double CPython's unpickler reads from `text`; `None` where it raises.
pub fn parse(text: &str) -> Option<f64> {
    if text.len() > MAX_TEXT {
        return None;
    }
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = if ["inf", "infinity"]
        .iter()
        .any(|w| body.eq_ignore_ascii_case(w))
    {
        f64::INFINITY
    } else if body.eq_ignore_ascii_case("nan") {
        f64::NAN
    } else {
        parse_decimal(body.as_bytes())?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// Digits with an optional `.` and exponent, correctly rounded; `None` if malformed or too large.
fn parse_decimal(text: &[u8]) -> Option<f64> {
    let mut digits = Big::new(0);
    let (mut significant, mut exp10, mut seen, mut point) = (0i32, 0i32, false, false);
    let mut rest = text;
    while let Some((&c, tail)) = rest.split_first() {
        match c {
            b'0'..=b'9' => {
                digits.mul_add(10, u32::from(c - b'0'));
                significant += i32::from(!digits.is_zero());
                exp10 -= i32::from(point);
                seen = true;
            }
            b'.' if !point => point = true,
            _ => break,
        }
        rest = tail;
    }
    if let Some((b'e' | b'E', tail)) = rest.split_first() {
        let (sign, tail) = match tail.split_first() {
            Some((b'-', t)) => (-1, t),
            Some((b'+', t)) => (1, t),
            _ => (1, tail),
        };
        if tail.is_empty() || !tail.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // Any exponent beyond a few hundred means zero or overflow alike: stop counting there.
        let e = tail
            .iter()
            .fold(0i32, |e, &c| (e * 10 + i32::from(c - b'0')).min(100_000));
        exp10 += sign * e;
        rest = &[];
    }
    if !seen || !rest.is_empty() {
        return None;
    }
    // The value is below 10^(exp10 + significant) and at least a tenth of that.
    if digits.is_zero() || exp10 + significant < -324 {
        return Some(0.0);
    }
    if exp10 + significant > 309 {
        return None;
    }
    let (mut num, mut den) = (digits, Big::new(1));
    for _ in 0..exp10.unsigned_abs() {
        if exp10 > 0 { &mut num } else { &mut den }.mul_add(10, 0);
    }
    // value = q * 2^k with q of 53 bits (fewer for a subnormal), rounded half to even.
    let mut k = (num.bits() - den.bits() - 53).max(-1074);
    loop {
        let (mut n, mut d) = (num, den);
        if k >= 0 {
            d.shl(k as u32);
        } else {
            n.shl(k.unsigned_abs());
        }
        let mut q = 0u64;
        for bit in (0..55).rev() {
            let mut t = d;
            t.shl(bit);
            if n.cmp(&t).is_ge() {
                n.sub(&t);
                q |= 1 << bit;
            }
        }
        if q >= 2 * HIDDEN_BIT {
            k += 1;
            continue;
        }
        n.shl(1);
        match n.cmp(&d) {
            Ordering::Greater => q += 1,
            Ordering::Equal => q += q & 1,
            Ordering::Less => {}
        }
        if q == 2 * HIDDEN_BIT {
            q = HIDDEN_BIT;
            k += 1;
        }
        if k > 971 {
            return None;
        }
        // The exponent field counts from 1 for a normal q (hidden bit set), from 0 below.
        return Some(f64::from_bits(((k + 1074) as u64) * HIDDEN_BIT + q));
    }
}

/// Appends `repr(f)` as CPython writes it.
pub fn repr(f: f64, out: &mut String) {
    let bits = f.to_bits();
    let (exponent, fraction) = ((bits >> 52) & 0x7ff, bits & (HIDDEN_BIT - 1));
    if exponent == 0x7ff && fraction != 0 {
        out.push_str("nan");
        return;
    }
    if f.is_sign_negative() {
        out.push('-');
    }
    if exponent == 0x7ff {
        out.push_str("inf");
        return;
    }
    if exponent == 0 && fraction == 0 {
        out.push_str("0.0");
        return;
    }
    let mut digits = [0u8; MAX_DIGITS];
    let (n, decpt) = shortest(exponent, fraction, &mut digits);
    layout(&digits[..n], decpt, out);
}

/// The shortest digits of a finite nonzero double (raw exponent and fraction fields) and the
/// position of the decimal point: the value is 0.DIGITS * 10^decpt.
fn shortest(exponent: u64, fraction: u64, digits: &mut [u8; MAX_DIGITS]) -> (usize, i32) {
    let (m, e) = match exponent {
        0 => (fraction, -1074),
        _ => (fraction | HIDDEN_BIT, exponent as i32 - 1075),
    };
    // Half the gap to each neighbour bounds what reads back as m * 2^e; the gap below is half
    // as wide at a power of two (not at the smallest normal, whose neighbour is subnormal). All
    // scaled to integers: value = r / s, gaps mp / s above and mm / s below.
    let uneven = u64::from(fraction == 0 && exponent > 1);
    let (mut r, mut s) = (Big::new(m << (1 + uneven)), Big::new(2 << uneven));
    let (mut mp, mut mm) = (Big::new(1 << uneven), Big::new(1));
    if e >= 0 {
        for b in [&mut r, &mut mp, &mut mm] {
            b.shl(e as u32);
        }
    } else {
        s.shl(e.unsigned_abs());
    }
    // A boundary reads back (round half to even) when m is even.
    let even = m & 1 == 0;
    let high = |r: &Big, mp: &Big, s: &Big| match r.sum_cmp(mp, s) {
        Ordering::Equal => even,
        o => o.is_gt(),
    };
    let mut decpt = 0;
    while high(&r, &mp, &s) {
        s.mul_add(10, 0);
        decpt += 1;
    }
    loop {
        let (mut r10, mut mp10) = (r, mp);
        r10.mul_add(10, 0);
        mp10.mul_add(10, 0);
        if high(&r10, &mp10, &s) {
            break;
        }
        (r, mp) = (r10, mp10);
        mm.mul_add(10, 0);
        decpt -= 1;
    }
    let mut n = 0;
    loop {
        r.mul_add(10, 0);
        mp.mul_add(10, 0);
        mm.mul_add(10, 0);
        let mut d = 0u8;
        while r.cmp(&s).is_ge() {
            r.sub(&s);
            d += 1;
        }
        let low = match r.cmp(&mm) {
            Ordering::Equal => even,
            o => o.is_lt(),
        };
        let up = high(&r, &mp, &s);
        if low || up {
            // Both ends reach: the closer digit, the even one on a tie (as dtoa).
            let twice = r.sum_cmp(&r, &s);
            if up && (!low || twice.is_gt() || (twice.is_eq() && d & 1 == 1)) {
                d += 1;
            }
            digits[n] = d;
            return (n + 1, decpt);
        }
        digits[n] = d;
        n += 1;
    }
}

/// Python's layout: exponent form below 1e-4 and from 1e16 on (two exponent digits at least).
fn layout(digits: &[u8], decpt: i32, out: &mut String) {
    let text = |d: &[u8], out: &mut String| {
        for &d in d {
            out.push(char::from(b'0' + d));
        }
    };
    let n = digits.len() as i32;
    if !(-4 < decpt && decpt <= 16) {
        text(&digits[..1], out);
        if n > 1 {
            out.push('.');
            text(&digits[1..], out);
        }
        let x = decpt - 1;
        out.push_str(if x < 0 { "e-" } else { "e+" });
        if x.abs() < 10 {
            out.push('0');
        }
        out.push_str(&x.unsigned_abs().to_string());
    } else if decpt <= 0 {
        out.push_str("0.");
        (0..-decpt).for_each(|_| out.push('0'));
        text(digits, out);
    } else if decpt < n {
        text(&digits[..decpt as usize], out);
        out.push('.');
        text(&digits[decpt as usize..], out);
    } else {
        text(digits, out);
        (0..decpt - n).for_each(|_| out.push('0'));
        out.push_str(".0");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr_of(f: f64) -> String {
        let mut s = String::new();
        repr(f, &mut s);
        s
    }

    /// core's `{:?}` in Python's layout: the same digits (shortest, closest), for comparison.
    fn core_repr(f: f64) -> String {
        if f.is_nan() {
            return "nan".into();
        }
        if f.is_infinite() {
            return if f > 0.0 { "inf" } else { "-inf" }.into();
        }
        let e = format!("{f:e}");
        let (mantissa, x) = e.split_once('e').unwrap();
        let x: i32 = x.parse().unwrap();
        let negative = mantissa.starts_with('-');
        let digits: Vec<u8> = mantissa
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|c| c - b'0')
            .collect();
        let mut s = String::from(if negative { "-" } else { "" });
        if f == 0.0 {
            s.push_str("0.0");
        } else {
            layout(&digits, x + 1, &mut s);
        }
        s
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn interesting() -> Vec<f64> {
        let mut v = vec![
            0.0,
            -0.0,
            5e-324,
            -5e-324,
            1e-323,
            f64::MAX,
            f64::MIN_POSITIVE,
            0.1,
            0.1 + 0.2,
            1e16,
            9999999999999998.0,
            1e-4,
            1e-5,
            0.0001234,
            123456789012345680.0,
            1e22,
            1e23,
            f64::from_bits(HIDDEN_BIT - 1),
            1.7976931348623157e308,
        ];
        // Every power of two, subnormal and normal, its neighbours and three times it.
        let powers = (0..52).map(|i| 1u64 << i).chain((1..2047).map(|e| e << 52));
        for p in powers.map(f64::from_bits) {
            v.extend([
                p,
                p * 3.0,
                f64::from_bits(p.to_bits() - 1),
                f64::from_bits(p.to_bits() + 1),
            ]);
        }
        let mut p = 1.0f64;
        for _ in 0..309 {
            v.extend([p, 1.0 / p, f64::from_bits(p.to_bits() + 1)]);
            p *= 10.0;
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..10_000 {
            v.push(f64::from_bits(rng.next()));
        }
        v.into_iter().filter(|f| f.is_finite()).collect()
    }

    #[test]
    fn repr_has_cores_shortest_digits_in_pythons_layout() {
        for f in interesting() {
            let (ours, core) = (repr_of(f), core_repr(f));
            // On an exact tie between two shortest digit strings (2^-25 = 2.98023223876953125e-8
            // at 17 digits) core rounds up and CPython, like us, to the even digit.
            let tie = |a: &str, b: &str| {
                let (a, b) = (a.as_bytes(), b.as_bytes());
                let i = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(0);
                a.len() == b.len() && a[i] % 2 == 0 && b[i] == a[i] + 1 && a[i + 1..] == b[i + 1..]
            };
            assert!(
                ours == core || tie(&ours, &core),
                "{:#x}: {ours} {core}",
                f.to_bits()
            );
        }
        for (f, python) in [
            (1e16, "1e+16"),
            (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e-4, "0.0001"),
            (-0.0, "-0.0"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.1 + 0.2, "0.30000000000000004"),
            (100.0, "100.0"),
            (123.456, "123.456"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ] {
            assert_eq!(repr_of(f), python);
        }
    }

    #[test]
    fn parse_reads_back_every_repr_and_agrees_with_core_on_long_text() {
        for f in interesting() {
            assert_eq!(
                parse(&repr_of(f)).map(f64::to_bits),
                Some(f.to_bits()),
                "{f:?}"
            );
            // 25 and 40 significant digits: beyond the shortest, where rounding is decided
            // far from the last digit, or on an exact tie (powers of two have exact decimals).
            for precision in [24, 39] {
                let text = format!("{f:.precision$e}");
                assert_eq!(
                    parse(&text).map(f64::to_bits),
                    text.parse::<f64>().ok().map(f64::to_bits),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn parse_takes_what_cpython_takes_and_refuses_the_rest() {
        for (text, want) in [
            ("1", Some(1.0)),
            ("-1.5", Some(-1.5)),
            ("+.5", Some(0.5)),
            ("5.", Some(5.0)),
            ("1E3", Some(1000.0)),
            ("1e-3", Some(0.001)),
            ("00012.50e+0001", Some(125.0)),
            ("INF", Some(f64::INFINITY)),
            ("-Infinity", Some(f64::NEG_INFINITY)),
            ("1e-400", Some(0.0)),
            ("-1e-400", Some(-0.0)),
            ("2.4703282292062328e-324", Some(5e-324)),
            ("2.4703282292062327e-324", Some(0.0)),
            ("1.7976931348623158e308", Some(f64::MAX)),
            ("1.7976931348623159e308", None),
            ("1e309", None),
            ("1e99999999999999999999", None),
            ("0e99999999999999999999", Some(0.0)),
            ("", None),
            (".", None),
            ("-", None),
            ("e5", None),
            ("1e", None),
            ("1e+", None),
            ("1.2.3", None),
            ("1_0", None),
            ("0x10", None),
            ("1 ", None),
            ("infinit", None),
        ] {
            assert_eq!(
                parse(text).map(f64::to_bits),
                want.map(f64::to_bits),
                "{text:?}"
            );
        }
        assert!(parse("nan").unwrap().is_nan() && parse("-NaN").unwrap().is_nan());
        let longest = format!("0.{}1", "0".repeat(MAX_TEXT - 3));
        assert!(parse(&longest).is_some());
        assert_eq!(parse(&format!("{longest}0")), None);
    }

    #[test]
    fn the_largest_numbers_fit_the_limbs() {
        // The longest text at the extremes still computed: the divisor's and dividend's peaks.
        let digits = "9".repeat(MAX_TEXT - 7);
        for text in [
            format!("0.{digits}e-324"),
            format!("{digits}e-381"),
            format!("{digits}e251"),
            format!("{digits}e252"),
            format!("-{digits}e-365"),
        ] {
            assert!(text.len() <= MAX_TEXT);
            let core = text.parse::<f64>().unwrap();
            let want = core.is_finite().then_some(core.to_bits());
            assert_eq!(parse(&text).map(f64::to_bits), want, "{text}");
        }
    }
}
