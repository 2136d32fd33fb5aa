//! Python 2 names, read as CPython's unpickler reads them. A pickle below protocol 3 may come
//! from Python 2, whose `str` is `__builtin__.unicode` and whose exceptions live in
//! `exceptions`; CPython maps such names through its `_compat_pickle` tables (`fix_imports`),
//! so fail2ban 0.11's banned IPs arrive as plain strings. This is the part of those tables that
//! replies can hold: the `__builtin__` and `exceptions` entries and `copy_reg`. Other modules of
//! the tables (`Queue`, `urllib2`, ...) never appear in a fail2ban reply and keep their names.

/// `_compat_pickle.PYTHON2_EXCEPTIONS`: `exceptions.X` is `builtins.X` for these names only. One
/// string, not a slice of them: 47 pointers and their relocations cost more bytes than the text.
const PYTHON2_EXCEPTIONS: &str =
    "ArithmeticError AssertionError AttributeError BaseException BufferError BytesWarning \
    DeprecationWarning EOFError EnvironmentError Exception FloatingPointError FutureWarning \
    GeneratorExit IOError ImportError ImportWarning IndentationError IndexError KeyError \
    KeyboardInterrupt LookupError MemoryError NameError NotImplementedError OSError \
    OverflowError PendingDeprecationWarning ReferenceError RuntimeError RuntimeWarning \
    StopIteration SyntaxError SyntaxWarning SystemError SystemExit TabError TypeError \
    UnboundLocalError UnicodeDecodeError UnicodeEncodeError UnicodeError \
    UnicodeTranslateError UnicodeWarning UserWarning ValueError Warning ZeroDivisionError";

/// The Python 3 name of `module.name` in a pickle of protocol `proto`, as CPython's
/// `Unpickler.find_class` resolves it: `NAME_MAPPING` first, then `IMPORT_MAPPING`, and only
/// below protocol 3. `None`: the name stands as it is.
pub(super) fn python3_name<'a>(
    proto: u8,
    module: &'a str,
    name: &'a str,
) -> Option<(&'a str, &'a str)> {
    if proto >= 3 {
        return None;
    }
    let renamed = match (module, name) {
        ("__builtin__", "xrange") => ("builtins", "range"),
        ("__builtin__", "reduce") => ("functools", "reduce"),
        ("__builtin__", "intern") => ("sys", "intern"),
        ("__builtin__", "unichr") => ("builtins", "chr"),
        ("__builtin__", "unicode" | "basestring") => ("builtins", "str"),
        ("__builtin__", "long") => ("builtins", "int"),
        ("exceptions", "StandardError") => ("builtins", "Exception"),
        ("exceptions", n) if PYTHON2_EXCEPTIONS.split(' ').any(|e| e == n) => ("builtins", n),
        ("__builtin__", n) => ("builtins", n),
        ("copy_reg", n) => ("copyreg", n),
        _ => return None,
    };
    Some(renamed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_below_protocol_3_only() {
        let name = |p, m, n| python3_name(p, m, n).map(|(m, n)| format!("{m}.{n}"));
        assert_eq!(
            name(2, "__builtin__", "unicode").as_deref(),
            Some("builtins.str")
        );
        assert_eq!(
            name(0, "__builtin__", "set").as_deref(),
            Some("builtins.set")
        );
        assert_eq!(
            name(2, "exceptions", "ValueError").as_deref(),
            Some("builtins.ValueError")
        );
        assert_eq!(
            name(2, "exceptions", "StandardError").as_deref(),
            Some("builtins.Exception")
        );
        // Not in CPython's exception list, and `exceptions` is not a renamed module.
        assert_eq!(name(2, "exceptions", "NoSuchError"), None);
        assert_eq!(name(3, "__builtin__", "unicode"), None);
        assert_eq!(PYTHON2_EXCEPTIONS.split(' ').count(), 47);
        for n in ["ArithmeticError", "DeprecationWarning", "ZeroDivisionError"] {
            assert_eq!(name(2, "exceptions", n), Some(format!("builtins.{n}")));
        }
        assert_eq!(name(2, "fail2ban.exceptions", "UnknownJailException"), None);
    }
}
