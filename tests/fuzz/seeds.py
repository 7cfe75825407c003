#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/).

One small file per seed: valid CBOR of every value kind pyctx maps (README
table) plus malformed items. Re-run after changing the list; the fuzzers add
their own finds in a scratch directory, never here.
"""
import os
import sys

# (name, hex) -- valid items, by kind.
VALID = [
    ("uint-0", "00"), ("uint-23", "17"), ("uint-24", "1818"), ("uint-u16", "19ffff"),
    ("uint-u32", "1a00010000"), ("uint-u64max", "1bffffffffffffffff"),
    ("negint-1", "20"), ("negint-min", "3bffffffffffffffff"),
    ("bignum-pos", "c249010000000000000000"), ("bignum-neg", "c349010000000000000000"),
    ("bignum-empty", "c240"),
    ("half-1", "f93c00"), ("half-nan", "f97e00"), ("half-inf", "f97c00"),
    ("half-subnormal", "f90001"), ("float32", "fa47c35000"), ("float64", "fb3ff199999999999a"),
    ("false", "f4"), ("true", "f5"), ("null", "f6"), ("undefined", "f7"),
    ("simple-16", "f0"), ("simple-255", "f8ff"),
    ("text-empty", "60"), ("text-a", "6161"), ("text-euro", "63e282ac"),
    ("text-indef", "7f6161626263ff"),
    ("bytes-empty", "40"), ("bytes-4", "4401020304"), ("bytes-indef", "5f42010241 03ff".replace(" ", "")),
    ("array-empty", "80"), ("array-3", "83010203"), ("array-indef", "9f0102ff"),
    ("array-nested", "8201820203"),
    ("map-empty", "a0"), ("map-text", "a26161016162f5"), ("map-indef", "bf616101ff"),
    ("map-intkey", "a10102"), ("map-tuplekey", "a1d97079820102f6"),
    ("set", "d90102830102 03".replace(" ", "")), ("set-of-tuples", "d9010281d97079820102"),
    ("set-in-key", "a1d9010281 01f6".replace(" ", "")),
    ("symbol", "d82763666f6f"), ("tuple", "d97079820102"), ("hostterm", "d9707a43010203"),
    ("mixed", "85f6f5fb400921fb54442d186178d9010280a1d8276161c249010000000000000000"),
]
# Malformed or unsupported items: each must be refused with a decode error.
MALFORMED = [
    ("trunc-head", "18"), ("trunc-text", "6461"), ("huge-bytes", "5affffffff"),
    ("huge-array", "9bffffffffffffffff"), ("huge-map", "bbffffffffffffffff"),
    ("stray-break", "ff"), ("reserved-ai", "1c"), ("bad-utf8", "62c328"),
    ("trunc-array", "8201"), ("odd-map", "bf01ff"), ("chunk-type", "7f4100ff"),
    ("nested-indef-chunk", "5f5f4100ffff"), ("tag-alone", "c2"), ("tag-break", "9fc2ff"),
    ("deep", "81" * 257 + "00"), ("dup-keys", "a201000100"), ("dup-set", "d90102820101"),
    ("int-float-keys", "a201f6f93c00f6"), ("unknown-tag", "d86400"),
    ("trailing", "0000"), ("bignum-text", "c26161"), ("symbol-bytes", "d82741 00".replace(" ", "")),
    ("map-in-key", "a1a0f6"), ("simple-24-low", "f817"),
]

def seeds_cbor():
    for name, h in VALID + MALFORMED:
        yield name, bytes.fromhex(h)

def call_input(choice, first, second=b""):
    return bytes([choice, len(first) & 0xFF, len(first) >> 8]) + first + second

def seeds_call():
    for i, (name, h) in enumerate(VALID + MALFORMED):
        v = bytes.fromhex(h)
        arr = b"\x81" + v                      # [v]
        kw = b"\xa1\x61k" + v                  # {"k": v}
        loc = b"\xa1\x61x" + v                 # {"x": v}
        yield "call-ident-" + name, call_input(0, arr)
        yield "call-%s-%s" % (("repr", "len")[i % 2], name), call_input(1 + i % 2, arr)
        yield "call-echo-" + name, call_input(3, arr, kw)
        yield "eval-%d-%s" % (i % 4, name), call_input(4 | (i % 4), loc)
    yield "call-echo-noargs", call_input(3, b"", b"\xa1\x61k\x01")
    yield "call-args-not-array", call_input(0, b"\xa0")
    yield "call-kwargs-not-map", call_input(3, b"\x80", b"\x80")
    yield "call-kwargs-intkey", call_input(3, b"\x80", b"\xa1\x01\x01")
    yield "eval-locals-intkey", call_input(4, b"\xa1\x01\x01")

def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    for target, seeds in (("cbor", seeds_cbor()), ("call", seeds_call())):
        d = os.path.join(root, target)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.startswith("seed-"):
                os.remove(os.path.join(d, f))
        for name, data in seeds:
            with open(os.path.join(d, "seed-" + name), "wb") as f:
                f.write(data)
    return 0

if __name__ == "__main__":
    sys.exit(main())
