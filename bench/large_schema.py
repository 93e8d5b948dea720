#!/usr/bin/env python3
"""Writes a large, API-shaped tree of .proto sources for bench/compare.sh.

    bench/large_schema.py OUT_DIR

Ten domains (packages bench.large.<domain>.v1), each with resource files,
request/response files and a service with google.api.http rules; files
import each other, the well-known types and google/api; every message,
field, enum and method carries a doc comment, as generated API schemas do.
The output is the same on every run (a fixed seed), so runs compare.

compare.sh compiles the tree with `rpcurl export` into a descriptor set
with source info. The method the benchmarks call,
bench.large.catalog.v1.CatalogService/EchoItem, takes and returns
bench.large.catalog.v1.Item, so `rpcurl serve` echoes it.
"""

import os
import random
import sys

DOMAINS = [
    "catalog", "billing", "identity", "inventory", "shipping",
    "pricing", "reviews", "search", "analytics", "notifications",
]
RESOURCE_FILES = 6       # per domain
MESSAGES_PER_FILE = 6
WORDS = (
    "account address amount archive batch budget bundle channel charge "
    "cluster code comment config contact cost country coupon credit currency "
    "customer device discount document domain entry event feature filter "
    "group image invoice item label language ledger limit line location "
    "member metric note offer order owner package page partner payment "
    "period plan policy price product profile quota rate receipt record "
    "region report request review role rule schedule score segment seller "
    "session setting shipment signal sku source status store subscription "
    "summary supplier tag tax team template tenant ticket token topic trace "
    "unit usage user vendor version warehouse window zone"
).split()
SCALARS = ["string", "int32", "int64", "uint32", "uint64", "bool", "double",
           "float", "bytes", "sint64", "fixed64"]
WKT = {
    "google.protobuf.Timestamp": "google/protobuf/timestamp.proto",
    "google.protobuf.Duration": "google/protobuf/duration.proto",
    "google.protobuf.FieldMask": "google/protobuf/field_mask.proto",
    "google.protobuf.Struct": "google/protobuf/struct.proto",
    "google.protobuf.StringValue": "google/protobuf/wrappers.proto",
    "google.protobuf.Int64Value": "google/protobuf/wrappers.proto",
}

rng = random.Random(20261201)
TAKEN = set()   # full names defined so far: each package's names are unique


def fresh(package, make):
    while True:
        name = make()
        if f"{package}.{name}" not in TAKEN:
            TAKEN.add(f"{package}.{name}")
            return name


def camel(words):
    return "".join(w.capitalize() for w in words)


def sentence(min_words=5, max_words=14):
    words = [rng.choice(WORDS) for _ in range(rng.randint(min_words, max_words))]
    return " ".join(words).capitalize() + "."


def doc(indent, lines=None):
    lines = lines if lines is not None else rng.randint(1, 2)
    return "".join(f"{indent}// {sentence()}\n" for _ in range(lines))


class File:
    def __init__(self, domain, name):
        self.domain = domain
        self.package = f"bench.large.{domain}.v1"
        self.path = f"bench/large/{domain}/v1/{name}.proto"
        self.imports = set()
        self.messages = []   # full names defined here
        self.enums = []
        self.body = []


def enum_block(file, name):
    values = rng.sample(WORDS, rng.randint(3, 8))
    prefix = "_".join(part.upper() for part in split_camel(name))
    out = [doc(""), f"enum {name} {{\n", doc("  ", 1),
           f"  {prefix}_UNSPECIFIED = 0;\n"]
    for i, v in enumerate(values, 1):
        out += [doc("  ", 1), f"  {prefix}_{v.upper()} = {i};\n"]
    out.append("}\n\n")
    file.enums.append(f"{file.package}.{name}")
    return "".join(out)


def split_camel(name):
    parts, cur = [], ""
    for c in name:
        if c.isupper() and cur:
            parts.append(cur)
            cur = ""
        cur += c
    return parts + [cur]


def field_type(file, known):
    r = rng.random()
    if r < 0.55 or not known:
        return rng.choice(SCALARS)
    if r < 0.70:
        name = rng.choice(sorted(WKT))
        file.imports.add(WKT[name])
        return name
    full, path = rng.choice(known)
    if path != file.path:
        file.imports.add(path)
    return full


def message_block(file, name, known, enums, extra_fields=(), fields=(4, 10)):
    out = [doc(""), f"message {name} {{\n"]
    if rng.random() < 0.4:
        file.imports.add("google/api/resource.proto")
        out.append(f'  option (google.api.resource) = {{\n    type: "{file.domain}.example.com/{name}"\n'
                   f'    pattern: "{file.domain}s/{{{file.domain}}}/{name.lower()}s/{{{name.lower()}}}"\n  }};\n\n')
    number = 1
    used = set()
    for fname, ftype in extra_fields:
        out += [doc("  ", 1), f"  {ftype} {fname} = {number};\n"]
        used.add(fname)
        number += 1
    for _ in range(rng.randint(*fields)):
        fname = "_".join(rng.sample(WORDS, rng.randint(1, 2)))
        if fname in used:
            continue
        used.add(fname)
        out.append(doc("  "))
        kind = rng.random()
        options = ""
        if rng.random() < 0.2:
            file.imports.add("google/api/field_behavior.proto")
            options = f" [(google.api.field_behavior) = {rng.choice(['REQUIRED', 'OUTPUT_ONLY', 'IMMUTABLE'])}]"
        if kind < 0.1:
            value = field_type(file, known)
            out.append(f"  map<string, {value}> {fname} = {number}{options};\n")
        elif kind < 0.3:
            out.append(f"  repeated {field_type(file, known)} {fname} = {number}{options};\n")
        elif kind < 0.4 and enums:
            full, path = rng.choice(enums)
            if path != file.path:
                file.imports.add(path)
            out.append(f"  {full} {fname} = {number}{options};\n")
        else:
            out.append(f"  {field_type(file, known)} {fname} = {number}{options};\n")
        number += 1
    if rng.random() < 0.3:
        out += [doc("  ", 1), "  oneof choice {\n"]
        for w in rng.sample(WORDS, 2):
            if w in used:
                continue
            used.add(w)
            out += [doc("    ", 1), f"    {rng.choice(SCALARS[:4])} {w} = {number};\n"]
            number += 1
        out.append("  }\n")
    out.append("}\n\n")
    file.messages.append(f"{file.package}.{name}")
    return "".join(out)


def render(file):
    head = ["// Generated by bench/large_schema.py for rpcurl's benchmarks.\n",
            doc(""), 'syntax = "proto3";\n\n', f"package {file.package};\n\n"]
    for imp in sorted(file.imports):
        head.append(f'import "{imp}";\n')
    head.append(f'\noption go_package = "example.com/bench/large/{file.domain}/v1;{file.domain}v1";\n\n')
    return "".join(head) + "".join(file.body)


def main():
    out_dir = sys.argv[1]
    files = []
    shared_known = []   # (full name, path) of messages other domains may use
    shared_enums = []
    for d_index, domain in enumerate(DOMAINS):
        known = list(shared_known[-40:])
        enums = list(shared_enums[-10:])
        resources = []
        for i in range(RESOURCE_FILES):
            f = File(domain, f"{rng.choice(WORDS)}_{i}")
            for _ in range(2):
                name = fresh(f.package, lambda: camel(rng.sample(WORDS, 2)) + "Kind")
                f.body.append(enum_block(f, name))
                enums.append((f"{f.package}.{name}", f.path))
            for m in range(MESSAGES_PER_FILE):
                if domain == "catalog" and i == 0 and m == 0:
                    # The message the benchmarks send: plain fields first.
                    name = "Item"
                    block = message_block(
                        f, name, [], [],
                        extra_fields=[("name", "string"), ("sku", "string"), ("quantity", "int64")])
                else:
                    name = fresh(f.package, lambda: camel(rng.sample(WORDS, 2)))
                    block = message_block(f, name, known, enums)
                f.body.append(block)
                known.append((f"{f.package}.{name}", f.path))
            resources.append(f)
            files.append(f)
        shared_known += known[-20:]
        shared_enums += enums[-4:]
        # The service: request and response messages, methods with HTTP rules.
        svc = File(domain, f"{domain}_service")
        svc.imports.add("google/api/annotations.proto")
        service = camel([domain]) + "Service"
        methods = []
        for r in resources:
            svc.imports.add(r.path)
            for full in rng.sample(r.messages, 2):
                short = full.rsplit(".", 1)[1]
                for verb in ("Get", "List", "Update"):
                    req, resp = f"{verb}{short}Request", f"{verb}{short}Response"
                    if f"{svc.package}.{req}" in svc.messages:
                        continue
                    svc.body.append(message_block(svc, req, [(full, r.path)], [], fields=(1, 3),
                                                  extra_fields=[("parent", "string")]))
                    svc.body.append(message_block(svc, resp, [(full, r.path)], [], fields=(0, 2),
                                                  extra_fields=[("result", full)]))
                    http = {"Get": "get", "List": "get", "Update": "patch"}[verb]
                    methods.append((f"{verb}{short}", req, resp,
                                    f'{http}: "/v1/{{parent={domain}s/*}}/{short.lower()}s"'))
        if domain == "catalog":
            methods.append(("EchoItem", "Item", "Item", 'post: "/v1/items:echo" body: "*"'))
        lines = [doc(""), f"service {service} {{\n"]
        for name, req, resp, rule in methods:
            lines += [doc("  "), f"  rpc {name}({req}) returns ({resp}) {{\n",
                      f"    option (google.api.http) = {{{rule}}};\n  }}\n\n"]
        lines.append("}\n")
        svc.body.append("".join(lines))
        files.append(svc)
    for f in files:
        path = os.path.join(out_dir, f.path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as out:
            out.write(render(f))
    print(len(files), "files")


if __name__ == "__main__":
    main()
