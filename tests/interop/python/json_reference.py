"""Reference JSON for rpcurl's differential test (tests/it/json_fidelity.rs).

  json_reference.py generate OUT_DIR --seed N --count N
      Random messages of the test schemas, written length-delimited to
      OUT_DIR/<type>.bin, and printed by protobuf's reference printer
      (google.protobuf.json_format, the pinned Python package) with options
      equal to rpcurl's in each variant, one JSON value a line, to
      OUT_DIR/<type>.<variant>.ref. OUT_DIR/manifest.json lists them.

  json_reference.py compare EXPECTED GOT [LABEL]
      Compares two files of JSON values (one a line, or any JSON stream)
      value for value. Prints each difference; exits 1 when there is one.

The comparison parses both sides with every number as a Decimal, so numbers
are compared by their exact decimal value: `1e+20`, `1E20` and
`100000000000000000000` are equal, as are `1.0` and `1`, but a float printed
with different digits (`0.1` against `0.10000000149011612`) is not. Objects
compare as unordered (Python prints map entries in the order of the wire,
rpcurl sorted: tests/it/json_fidelity.rs checks rpcurl's order separately);
arrays compare in order. Strings compare after unescaping.

The generator is deterministic for a given seed (random.Random(seed), and
types and fields walked in descriptor order).
"""

import ctypes
import decimal
import json
import math
import os
import random
import string
import struct
import sys

from google.protobuf import descriptor
from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import json_format
from google.protobuf import message_factory
from google.protobuf.internal import type_checkers

# Python prints a float (32-bit) field with at least 6 significant digits
# when fewer would do for some denormals: the smallest float prints as
# 1.4013e-45, where Go's protojson (and rpcurl) print the shortest text
# that reads back as the same float, 1e-45. Both are the same float; the
# reference follows Go here (docs/notes.md), and counts where it did.
_python_shortest_float = type_checkers.ToShortestFloat
SHORTEST_FLOAT_CHANGES = [0]


def _to_float32(x):
    # Rounds to the nearest float as C does (struct.pack refuses values
    # above the largest float that still round to it).
    return ctypes.c_float(x).value


def _go_shortest_float(original):
    precision = 1
    rounded = float("{0:.{1}g}".format(original, precision))
    while _to_float32(rounded) != original:
        precision += 1
        rounded = float("{0:.{1}g}".format(original, precision))
    if rounded != _python_shortest_float(original):
        SHORTEST_FLOAT_CHANGES[0] += 1
    return rounded


type_checkers.ToShortestFloat = _go_shortest_float

FD = descriptor.FieldDescriptor

# Variants: name -> (rpcurl flags, json_format options).
VARIANTS = {
    "default": ([], {}),
    "emit_defaults": (
        ["--emit-defaults"],
        {"always_print_fields_with_no_presence": True},
    ),
    "proto_names": (["--proto-names"], {"preserving_proto_field_name": True}),
    "enum_numbers": (["--enum-numbers"], {"use_integers_for_enums": True}),
}

# The schemas, relative to the repository, and the types tested in each
# (None: every message of the schema's own files).
SCHEMAS = [
    ("descriptors/test.binpb", None),
    (
        "conformance/conformance.binpb",
        [
            "protobuf_test_messages.proto3.TestAllTypesProto3",
            "protobuf_test_messages.proto2.TestAllTypesProto2",
        ],
    ),
]

# Well-known types printed as the top-level message too.
WKT_TOP = [
    "google.protobuf.Any",
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.FieldMask",
    "google.protobuf.Struct",
    "google.protobuf.Value",
    "google.protobuf.ListValue",
    "google.protobuf.DoubleValue",
    "google.protobuf.FloatValue",
    "google.protobuf.Int64Value",
    "google.protobuf.UInt64Value",
    "google.protobuf.Int32Value",
    "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue",
    "google.protobuf.StringValue",
    "google.protobuf.BytesValue",
    "google.protobuf.Empty",
]

MAX_DEPTH = 4

INT32 = [0, 1, -1, 2**31 - 1, -(2**31), 127, -128, 255, 65535]
UINT32 = [0, 1, 2**32 - 1, 2**31, 255, 65535]
INT64 = [0, 1, -1, 2**63 - 1, -(2**63), 2**53, 2**53 + 1, -(2**53) - 1, 2**31]
UINT64 = [0, 1, 2**64 - 1, 2**63, 2**53 + 1, 2**32]
DOUBLES = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.1,
    1e20,
    1e21,
    1e-7,
    123456789.125,
    2.0**53,
    2.0**53 + 2,
    -(2.0**63),
    sys.float_info.max,
    -sys.float_info.max,
    sys.float_info.min,  # smallest normal
    5e-324,  # smallest denormal
    2.225073858507201e-308,  # largest denormal
    math.pi,
    math.inf,
    -math.inf,
    math.nan,
]
FLOATS = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    struct.unpack("<f", struct.pack("<f", 0.1))[0],
    struct.unpack("<f", struct.pack("<f", 1e20))[0],
    16777216.0,
    16777217.0 - 1,
    3.4028234663852886e38,  # largest finite float
    -3.4028234663852886e38,
    1.1754943508222875e-38,  # smallest normal float
    1.401298464324817e-45,  # smallest denormal float
    1.1754942106924411e-38,  # largest denormal float
    math.inf,
    -math.inf,
    math.nan,
]
STRINGS = [
    "",
    "a",
    '"quoted" \\backslash\\ /slash/',
    "\x00\x01\x1f\x7f control",
    "\t\n\r\b\f",
    "caf\u00e9 \u00fc\u00df \u4e2d\u6587 \U0001f600 \u2028\u2029 \ufeff",
    "</script><!-- & ' >",
]
LONG_STRINGS = ["x" * 3000, "\u00e9\U0001f600\n" * 500]


def float32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


class Generator:
    def __init__(self, pool, rng, all_types):
        self.pool = pool
        self.rng = rng
        # Types an Any may hold: user types of the schema and well-known
        # types.
        self.any_types = all_types

    def chance(self, p):
        return self.rng.random() < p

    def pick(self, items):
        return items[self.rng.randrange(len(items))]

    def string(self):
        r = self.rng.random()
        if r < 0.02:
            return self.pick(LONG_STRINGS)
        if r < 0.4:
            return self.pick(STRINGS)
        alphabet = (
            string.ascii_letters
            + string.digits
            + ' "\\/\x00\x08\x0c\n\t\x1f\x7f\u0080\u00ff\u0100\u07ff\u0800\uffff'
            + "\U00010000\U0010ffff\u00e9\u4e2d\U0001f600"
        )
        n = self.rng.randrange(0, 40)
        return "".join(self.pick(alphabet) for _ in range(n))

    def bytes(self):
        if self.chance(0.3):
            return b""
        n = self.rng.randrange(0, 50)
        return bytes(self.rng.randrange(256) for _ in range(n))

    def double(self):
        r = self.rng.random()
        if r < 0.5:
            return self.pick(DOUBLES)
        if r < 0.75:
            # Any bit pattern (NaN payloads print as NaN).
            return struct.unpack("<d", self.rng.getrandbits(64).to_bytes(8, "little"))[0]
        return self.rng.uniform(-1e6, 1e6)

    def float(self):
        r = self.rng.random()
        if r < 0.5:
            return self.pick(FLOATS)
        if r < 0.75:
            return struct.unpack("<f", self.rng.getrandbits(32).to_bytes(4, "little"))[0]
        return float32(self.rng.uniform(-1e4, 1e4))

    def integer(self, pool, lo, hi):
        if self.chance(0.5):
            return self.pick(pool)
        return self.rng.randint(lo, hi)

    def scalar(self, field):
        t = field.type
        if t in (FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32):
            return self.integer(INT32, -(2**31), 2**31 - 1)
        if t in (FD.TYPE_UINT32, FD.TYPE_FIXED32):
            return self.integer(UINT32, 0, 2**32 - 1)
        if t in (FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64):
            return self.integer(INT64, -(2**63), 2**63 - 1)
        if t in (FD.TYPE_UINT64, FD.TYPE_FIXED64):
            return self.integer(UINT64, 0, 2**64 - 1)
        if t == FD.TYPE_DOUBLE:
            return self.double()
        if t == FD.TYPE_FLOAT:
            return self.float()
        if t == FD.TYPE_BOOL:
            return self.chance(0.5)
        if t == FD.TYPE_STRING:
            return self.string()
        if t == FD.TYPE_BYTES:
            return self.bytes()
        if t == FD.TYPE_ENUM:
            values = field.enum_type.values
            if field.enum_type.full_name == "google.protobuf.NullValue":
                return 0
            # Open enums also get numbers without a name.
            if not field.enum_type.is_closed and self.chance(0.1):
                return self.pick([-1, 99, 2**31 - 1])
            return self.pick(values).number
        raise ValueError(f"unexpected type {t}")

    def fill(self, msg, depth):
        name = msg.DESCRIPTOR.full_name
        special = WKT_FILLERS.get(name)
        if special:
            special(self, msg, depth)
            return
        # Fill fields in order; oneofs get at most one member.
        oneofs_done = set()
        for field in msg.DESCRIPTOR.fields:
            oneof = field.containing_oneof
            if oneof is not None and not oneof.name.startswith("_"):
                if oneof.name in oneofs_done:
                    continue
                members = list(oneof.fields)
                if not self.chance(0.6):
                    oneofs_done.add(oneof.name)
                    continue
                field = self.pick(members)
                oneofs_done.add(oneof.name)
                self.set_field(msg, field, depth, p=1.0)
                continue
            self.set_field(msg, field, depth)

    def set_field(self, msg, field, depth, p=0.5):
        if not self.chance(p):
            return
        is_msg = field.type in (FD.TYPE_MESSAGE, FD.TYPE_GROUP)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_f = field.message_type.fields_by_name["key"]
            val_f = field.message_type.fields_by_name["value"]
            container = getattr(msg, field.name)
            for _ in range(self.rng.randrange(0, 5 if depth < MAX_DEPTH else 1)):
                key = self.scalar(key_f)
                if val_f.type == FD.TYPE_MESSAGE:
                    if depth >= MAX_DEPTH and val_f.message_type.full_name != "google.protobuf.Value":
                        continue
                    self.fill(container[key], depth + 1)
                else:
                    container[key] = self.scalar(val_f)
            return
        if field.is_repeated:
            container = getattr(msg, field.name)
            for _ in range(self.rng.randrange(0, 5 if depth < MAX_DEPTH else 2)):
                if is_msg:
                    if depth >= MAX_DEPTH:
                        break
                    self.fill(container.add(), depth + 1)
                else:
                    container.append(self.scalar(field))
            return
        if is_msg:
            if depth >= MAX_DEPTH:
                return
            sub = getattr(msg, field.name)
            sub.SetInParent()
            self.fill(sub, depth + 1)
            return
        setattr(msg, field.name, self.scalar(field))


def fill_timestamp(g, msg, depth):
    # 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
    lo, hi = -62135596800, 253402300799
    msg.seconds = g.pick([lo, hi, 0, -1, g.rng.randint(lo, hi)])
    msg.nanos = g.pick([0, 999999999, 1, 1000, 1000000, 500000000, g.rng.randint(0, 999999999)])


def fill_duration(g, msg, depth):
    limit = 315576000000
    seconds = g.pick([limit, -limit, 0, 1, -1, g.rng.randint(-limit, limit)])
    nanos = g.pick([0, 999999999, 1, 1000, 1000000, g.rng.randint(0, 999999999)])
    if seconds < 0 or (seconds == 0 and g.chance(0.5)):
        nanos = -nanos
    msg.seconds = seconds
    msg.nanos = nanos


def fill_field_mask(g, msg, depth):
    for _ in range(g.rng.randrange(0, 4)):
        words = [
            "".join(g.pick(string.ascii_lowercase) for _ in range(g.rng.randrange(1, 6)))
            for _ in range(g.rng.randrange(1, 4))
        ]
        path = "_".join(words)
        if g.chance(0.3):
            path += "." + words[0]
        msg.paths.append(path)


def value_json(g, depth):
    r = g.rng.random()
    if depth >= MAX_DEPTH or r < 0.6:
        kind = g.pick(["null", "number", "string", "bool"])
        if kind == "null":
            return None
        if kind == "number":
            return g.pick([d for d in DOUBLES if math.isfinite(d)] + [g.rng.uniform(-1e9, 1e9)])
        if kind == "string":
            return g.string()
        return g.chance(0.5)
    if r < 0.8:
        return [value_json(g, depth + 1) for _ in range(g.rng.randrange(0, 4))]
    return {g.string(): value_json(g, depth + 1) for _ in range(g.rng.randrange(0, 4))}


def set_value(msg, v):
    if v is None:
        msg.null_value = 0
    elif isinstance(v, bool):
        msg.bool_value = v
    elif isinstance(v, float):
        msg.number_value = v
    elif isinstance(v, str):
        msg.string_value = v
    elif isinstance(v, list):
        msg.list_value.SetInParent()
        for item in v:
            set_value(msg.list_value.values.add(), item)
    else:
        msg.struct_value.SetInParent()
        for key, item in v.items():
            set_value(msg.struct_value.fields[key], item)


def fill_value(g, msg, depth):
    set_value(msg, value_json(g, depth))


def fill_struct(g, msg, depth):
    for _ in range(g.rng.randrange(0, 4)):
        set_value(msg.fields[g.string()], value_json(g, depth + 1))


def fill_list_value(g, msg, depth):
    for _ in range(g.rng.randrange(0, 4)):
        set_value(msg.values.add(), value_json(g, depth + 1))


def fill_wrapper(g, msg, depth):
    if g.chance(0.2):
        return  # the default value: still printed, as the wrapped value
    g.set_field(msg, msg.DESCRIPTOR.fields_by_name["value"], depth, p=1.0)


def fill_any(g, msg, depth):
    if depth >= MAX_DEPTH or g.chance(0.1):
        return  # an empty Any
    name = g.pick(g.any_types)
    desc = g.pool.FindMessageTypeByName(name)
    inner = message_factory.GetMessageClass(desc)()
    g.fill(inner, depth + 1)
    msg.Pack(inner)


WKT_FILLERS = {
    "google.protobuf.Timestamp": fill_timestamp,
    "google.protobuf.Duration": fill_duration,
    "google.protobuf.FieldMask": fill_field_mask,
    "google.protobuf.Value": fill_value,
    "google.protobuf.Struct": fill_struct,
    "google.protobuf.ListValue": fill_list_value,
    "google.protobuf.Any": fill_any,
    "google.protobuf.Empty": lambda g, msg, depth: None,
}
for _name in WKT_TOP:
    if _name.endswith("Value") and _name not in WKT_FILLERS and _name != "google.protobuf.Value":
        WKT_FILLERS[_name] = fill_wrapper


def load_pool(path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for file in fds.file:
        pool.Add(file)
    return fds, pool


def has_message(pool, name):
    try:
        pool.FindMessageTypeByName(name)
        return True
    except KeyError:
        return False


def own_types(fds, pool):
    names = []

    def walk(prefix, messages):
        for m in messages:
            if m.options.map_entry:
                continue
            full = f"{prefix}.{m.name}" if prefix else m.name
            names.append(full)
            walk(full, m.nested_type)

    for file in fds.file:
        if file.package.startswith("google.") or file.package.startswith("buf."):
            continue
        walk(file.package, file.message_type)
    return names


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def generate(out_dir, seed, count):
    os.makedirs(out_dir, exist_ok=True)
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    manifest = {"variants": {k: v[0] for k, v in VARIANTS.items()}, "types": []}
    for schema, chosen in SCHEMAS:
        fds, pool = load_pool(os.path.join(repo, schema))
        user = own_types(fds, pool)
        wkts = [n for n in WKT_TOP if has_message(pool, n)]
        types = (chosen or user) + wkts
        any_types = (chosen or user) + wkts
        for name in types:
            rng = random.Random(f"{seed}/{schema}/{name}")
            gen = Generator(pool, rng, any_types)
            cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
            messages = []
            for _ in range(count):
                m = cls()
                gen.fill(m, 0)
                messages.append(m)
            stem = f"{os.path.basename(schema).split('.')[0]}.{name}"
            with open(os.path.join(out_dir, stem + ".bin"), "wb") as f:
                for m in messages:
                    data = m.SerializeToString()
                    f.write(varint(len(data)) + data)
            for variant, (_, options) in VARIANTS.items():
                with open(os.path.join(out_dir, f"{stem}.{variant}.ref"), "w") as f:
                    for m in messages:
                        d = json_format.MessageToDict(m, descriptor_pool=pool, **options)
                        f.write(json.dumps(d, ensure_ascii=False) + "\n")
            manifest["types"].append(
                {"schema": os.path.join(repo, schema), "type": name, "stem": stem, "count": count}
            )
    manifest["python_float_digits_changed"] = SHORTEST_FLOAT_CHANGES[0]
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


def parse_stream(text):
    decoder = json.JSONDecoder(parse_float=decimal.Decimal, parse_int=decimal.Decimal)
    values = []
    i = 0
    n = len(text)
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            return values
        value, i = decoder.raw_decode(text, i)
        values.append(value)


# Differences known and documented in docs/notes.md, counted but allowed:
KNOWN = {
    # prost-reflect takes -0.0 for the default of a proto3 float or double
    # field without presence, so rpcurl leaves it out; both references print
    # it (-0.0 is not the default's bit pattern).
    "negative zero": 0,
    # Python prints a google.protobuf.NullValue field as 0 when it prints
    # enums as numbers; Go's protojson (and rpcurl) print null whatever the
    # option.
    "NullValue as 0": 0,
}


def is_negative_zero(value):
    return isinstance(value, decimal.Decimal) and value.is_zero() and value.is_signed()


def differences(a, b, path="$"):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in b and is_negative_zero(a[key]):
                KNOWN["negative zero"] += 1
                continue
            if key in b and a[key] == 0 and b[key] is None and not isinstance(a[key], bool):
                KNOWN["NullValue as 0"] += 1
                continue
            if key not in a:
                yield f"{path}.{json.dumps(key, ensure_ascii=True)}: only in rpcurl's: {json.dumps(b[key], default=str)[:200]}"
            elif key not in b:
                yield f"{path}.{json.dumps(key, ensure_ascii=True)}: missing from rpcurl's: {json.dumps(a[key], default=str)[:200]}"
            else:
                yield from differences(a[key], b[key], f"{path}.{json.dumps(key, ensure_ascii=True)}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield f"{path}: {len(a)} items, rpcurl {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            yield from differences(x, y, f"{path}[{i}]")
    elif type(a) is not type(b) or a != b:
        yield f"{path}: reference {json.dumps(a, default=str)[:200]}, rpcurl {json.dumps(b, default=str)[:200]}"


def compare(expected_path, got_path, label):
    with open(expected_path, encoding="utf-8") as f:
        expected = parse_stream(f.read())
    with open(got_path, encoding="utf-8") as f:
        got = parse_stream(f.read())
    bad = 0
    if len(expected) != len(got):
        print(f"{label}: {len(expected)} reference messages, rpcurl printed {len(got)}")
        bad += 1
    for i, (a, b) in enumerate(zip(expected, got)):
        diffs = list(differences(a, b))
        if diffs:
            bad += 1
            for d in diffs[:5]:
                print(f"{label} #{i}: {d}")
    return bad


def main(argv):
    if argv[1] == "generate":
        out = argv[2]
        seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else 1
        count = int(argv[argv.index("--count") + 1]) if "--count" in argv else 20
        generate(out, seed, count)
        return 0
    if argv[1] == "compare":
        label = argv[4] if len(argv) > 4 else argv[3]
        return 1 if compare(argv[2], argv[3], label) else 0
    if argv[1] == "compare-many":
        # Pairs of EXPECTED GOT LABEL lines on stdin.
        bad = 0
        for line in sys.stdin:
            if line.strip():
                expected, got, label = line.rstrip("\n").split("\t")
                bad += compare(expected, got, label)
        known = ", ".join(f"{n} {what}" for what, n in KNOWN.items() if n)
        print(f"{bad} mismatched messages" + (f"; known differences: {known}" if known else ""))
        return 1 if bad else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
