#!/usr/bin/env python3
"""CPython's pickle as the oracle for banwatch's decoder.

It prints, for pickles, the JSON that `pyjson::to_json` must produce (src/pyjson.rs):
None/bool/int/float/str as JSON, ints outside i64 as strings of digits, lists and tuples as
arrays, dicts as objects (keys as json.dumps writes them; other keys as compact JSON text),
`builtins.str(x)` as x, a class reference as {"global": "module.name"} (Python 2 names mapped
as CPython maps them below protocol 3: `__builtin__.unicode` is `builtins.str`), a call of a
class (how exceptions arrive) as {"class": name, "args": [...]}.

Modes (one JSON document per output line):
  golden FILE...          decode each captured reply stream: {"file", "replies": [json...]}
  random SEED N           N random values, each pickled at protocols 0-5: {"hex", "json", "protocol"}
  strlists SEED N         N replies shaped like a ban list, (0, [str, ...]), at protocols 0-5, some
                          with one str object twice (a memo reference): {"hex", "json", "protocol",
                          "shared"}
  bigints                 replies (0, int) with ints of 4,299 to 5,000 digits, both signs, at
                          every protocol that can pickle them: {"hex", "protocol", "json"}, where
                          the int is its decimal text, or null where CPython refuses to convert it
                          (its int/str limit, 4,300 digits by default)
  unpickle                read hex pickles from stdin, print json.dumps of the unpickled value
  floats SEED N           not JSON, for the float codec (src/fail2ban/pickle/float.rs): lines
                          `r BITS REPR HEX` for doubles (every power of two and of ten and their
                          neighbours, the edges, N random bit patterns, N subnormals, N near 1),
                          with repr(x) and x's protocol-0 pickle, and lines `t TEXT BITS` for
                          texts a protocol-0 pickle may hold (exact halfway points between
                          doubles and a hair either side, 18 to 40 digits, syntax variants) with
                          what CPython's unpickler reads from them, or `error`, and whether the
                          text is an exact halfway point (`half`) or not (`other`)
"""
import _compat_pickle
import io
import json
import pickle
import random
import sys

TERMINATOR = b"<F2B_END_COMMAND>"
I64 = (-(2**63), 2**63 - 1)


class Global:
    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):
        return Call(self, args)


class Call:
    def __init__(self, callable_, args):
        self.callable, self.args = callable_, args


class Oracle(pickle._Unpickler):
    """CPython's reference unpickler (the pure-Python twin of the C one, which hides `proto`),
    resolving names exactly as its find_class does, Python 2 names included, but to inert
    `Global`s instead of importing anything."""

    def find_class(self, module, name):
        # Lib/pickle.py, Unpickler.find_class: the fix_imports tables apply below protocol 3.
        if self.proto < 3 and self.fix_imports:
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        if module == "builtins" and name == "str":
            return str
        return Global(module, name)


def to_json(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v if I64[0] <= v <= I64[1] else str(v)
    if isinstance(v, float):
        return v
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, (list, tuple, set, frozenset)):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            out[key_text(k)] = to_json(x)
        return out
    if isinstance(v, Global):
        return {"global": v.module + "." + v.name}
    if isinstance(v, Call):
        args = [to_json(a) for a in v.args]
        if isinstance(v.callable, Global):
            return {"class": v.callable.name, "args": args}
        return {"call": to_json(v.callable), "args": args}
    raise TypeError("no JSON rule for %r" % (v,))


def key_text(k):
    if isinstance(k, str):
        return k
    if k is None or isinstance(k, (bool, int, float)):
        j = to_json(k)
        return j if isinstance(j, str) else json.dumps(j)
    return json.dumps(to_json(k), separators=(",", ":"), ensure_ascii=False)


def loads(data):
    return Oracle(io.BytesIO(data), encoding="utf-8").load()


def random_value(rng, depth=0):
    kinds = ["none", "bool", "int", "bigint", "float", "str", "longstr"]
    if depth < 4:
        kinds += ["list", "tuple", "dict"] * 2
    kind = rng.choice(kinds)
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.choice([0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1,
                           rng.randint(-(2**40), 2**40), rng.randint(-(2**63), 2**63 - 1)])
    if kind == "bigint":
        return rng.choice([1, -1]) * rng.randint(2**63, 2**200)
    if kind == "float":
        return rng.choice([0.0, -0.0, 0.1, 1e16, -2.5e-300, rng.uniform(-1e9, 1e9), float(rng.randint(-100, 100))])
    if kind in ("str", "longstr"):
        n = rng.randint(0, 12) if kind == "str" else rng.randint(300, 700)
        alphabet = "aZ09 \t\n\\'\"<>é€ü中文\U0001F600\U00010348"
        return "".join(rng.choice(alphabet) for _ in range(n))
    items = [random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    if kind == "list":
        return items
    if kind == "tuple":
        return tuple(items)
    return {"k%d%s" % (i, rng.choice(["", "é", " x"])): v for i, v in enumerate(items)}


def floats(rng, n):
    import decimal
    import math
    import struct
    bits = lambda x: struct.unpack("<Q", struct.pack("<d", x))[0]
    double = lambda b: struct.unpack("<d", struct.pack("<Q", b))[0]
    xs = [0.0, -0.0, 0.1, 0.1 + 0.2, 1e16, 1e-5, 1e-4, 9999999999999998.0, 1e22, 1e23,
          2.0**-25, sys.float_info.max, sys.float_info.min, 5e-324, math.inf, -math.inf]
    xs += [double(b << 52 if b else 1) for b in range(0, 2047)]  # powers of two
    xs += [double(1 << b) for b in range(52)]  # subnormal powers of two
    xs += [float("1e%d" % e) for e in range(-323, 309)]
    xs += [x2 for x in list(xs) if math.isfinite(x) and x > 0
           for x2 in (double(bits(x) - 1), double(bits(x) + 1), 3 * x) if math.isfinite(x2)]
    xs += [double(rng.getrandbits(64)) for _ in range(n)]
    xs += [double(rng.getrandbits(52)) for _ in range(n)]
    xs += [double(bits(1.0) + rng.randint(-2**54, 2**54)) for _ in range(n)]
    for x in xs:
        x = -x if rng.random() < 0.5 else x
        print("r %d %s %s" % (bits(x), repr(x), pickle.dumps(x, protocol=0).hex()))

    decimal.getcontext().prec = 1200
    texts = ["1E5", "+1.5", "-.5", "5.", "1e+05", "00012.50e+0001", "inf", "-Infinity", "iNf",
             "nan", "-nan", "1e309", "-1e309", "1e-400", "1e99999999999999999999",
             "0e99999999999999999999", ".", "e1", "1e", "1e+", "0x1p3", "1_0", "1.5.2", "++1",
             "infinit", "1.7976931348623157e308", "1.7976931348623158e308",
             "1.7976931348623159e308", "2.4703282292062327e-324", "2.4703282292062328e-324"]
    texts = [(t, "other") for t in texts]
    for _ in range(n):
        x = abs(double(rng.getrandbits(64)))
        if not math.isfinite(x) or x == 0:
            continue
        exact, up = decimal.Decimal(x), decimal.Decimal(double(bits(x) + 1))
        middle = (exact + up) / 2
        hair = decimal.Decimal(1).scaleb(middle.as_tuple().exponent - 3)
        for d, kind in ((middle, "half"), (middle + hair, "other"), (middle - hair, "other")):
            texts += [(str(d), kind), (format(d, "e"), kind)]
        texts += [(format(exact, ".%de" % rng.randint(17, 39)), "other")]
        texts += [("%d.%de%d" % (rng.randint(0, 10**9), rng.randint(0, 10**9),
                                 rng.randint(-340, 320)), "other")]
    # Halfway points short enough to be read: the doubles from 1 to 2^64 and a few bits below 1.
    for _ in range(n):
        x = double(bits(1.0) + rng.randint(-2**57, 2**58))
        middle = (decimal.Decimal(x) + decimal.Decimal(double(bits(x) + 1))) / 2
        texts += [(str(middle), "half"), (format(middle.normalize(), "E"), "half")]
    for t, kind in texts:
        if len(t) > 64:
            continue  # beyond banwatch's bound (src/fail2ban/pickle/float.rs, MAX_TEXT)
        try:
            read = "%d" % bits(pickle.loads(b"F" + t.encode() + b"\n."))
        except (ValueError, OverflowError, pickle.UnpicklingError):
            read = "error"
        print("t %s %s %s" % (t, read, kind))


def main():
    mode = sys.argv[1]
    if mode == "golden":
        # A file is a stream of replies, each followed by the terminator (usually one reply;
        # embedded_terminator.bin holds two, as the server answers a request it split in two).
        for path in sys.argv[2:]:
            stream = io.BytesIO(open(path, "rb").read())
            replies = []
            while stream.tell() < len(stream.getbuffer()):
                replies.append(to_json(Oracle(stream, encoding="utf-8").load()))
                rest = stream.read(len(TERMINATOR))
                if rest and rest != TERMINATOR:
                    sys.exit("%s: no terminator after reply %d" % (path, len(replies)))
            print(json.dumps({"file": path, "replies": replies}, ensure_ascii=False))
    elif mode == "random":
        rng = random.Random(int(sys.argv[2]))
        for _ in range(int(sys.argv[3])):
            v = random_value(rng)
            for proto in range(0, 6):
                data = pickle.dumps(v, protocol=proto)
                print(json.dumps({"hex": data.hex(), "protocol": proto, "json": to_json(v)}, ensure_ascii=False))
    elif mode == "strlists":
        rng = random.Random(int(sys.argv[2]))
        alphabet = "09.:a \t+=-é€中\U0001F600"
        for _ in range(int(sys.argv[3])):
            # Strings of 2+ characters, so no two are one cached object unless `shared` says so.
            # Up to 2,500 lines: several APPENDS batches of 1,000 and, at protocol 4+, frames.
            n = rng.choice([0, 1, 2, 999, 1000, 1001, rng.randint(0, 2500)])
            lines = ["".join(rng.choice(alphabet) for _ in range(rng.choice([2, 5, 62, 255, 256, 300])))
                     for _ in range(n)]
            shared = n > 1 and rng.random() < 0.2
            if shared:
                lines[1] = lines[0]  # the same object: pickled once, then referenced
            reply = (0, lines)
            for proto in range(0, 6):
                data = pickle.dumps(reply, protocol=proto)
                print(json.dumps({"hex": data.hex(), "protocol": proto, "json": to_json(reply),
                                  "shared": shared}, ensure_ascii=False))
    elif mode == "bigints":
        for digits in (4299, 4300, 4301, 5000):
            for sign in (1, -1):
                v = sign * (10**digits - 1)  # arithmetic: no str conversion, no limit
                try:
                    text = str(v)
                except ValueError:
                    text = None
                if not hasattr(sys, "get_int_max_str_digits") and digits > 4300:
                    text = None  # before 3.11 CPython had no limit; the default one applies
                for proto in range(0, 6):
                    try:
                        data = pickle.dumps((0, v), protocol=proto)
                    except ValueError:
                        continue  # protocols 0 and 1 write the digits, so they refuse too
                    print(json.dumps({"hex": data.hex(), "protocol": proto, "json": [0, text]}))
    elif mode == "floats":
        floats(random.Random(int(sys.argv[2])), int(sys.argv[3]))
    elif mode == "unpickle":
        for line in sys.stdin:
            print(json.dumps(pickle.loads(bytes.fromhex(line.strip())), ensure_ascii=False))
    else:
        sys.exit("unknown mode %r" % mode)


if __name__ == "__main__":
    main()
