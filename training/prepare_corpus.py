#!/usr/bin/python3
"""Build the training corpus for the demo language model from Debian packages.

Sources (installed with
``apt-get install -y --no-install-recommends r-cran-janeaustenr r-cran-tokenizers``):

* r-cran-janeaustenr -- Jane Austen's six completed novels (public-domain
  text, 1811-1818), stored as R character vectors in the package's lazy-load
  data base ``data/Rdata.rdb``.
* r-cran-tokenizers -- Herman Melville's *Moby Dick* (public-domain text,
  1851, a Project Gutenberg transcription), stored the same way.

The R data bases are read by a small reader for R's serialisation format
written here (standard library only; R itself is never run).

Outputs (to ``--out``, default ``training/work/corpus/``):

* ``train.txt``  -- one cleaned paragraph per line, a blank line between
  documents (chapters).
* ``valid.txt``  -- the same format, made of whole chapters held out from
  training (about 4 % of the text).
* ``events.txt`` -- short "stream event" sentences (20-200 characters), one
  per line, taken from a further set of held-out chapters that appear in
  neither train.txt nor valid.txt.
* ``stats.json`` -- the counts printed at the end, and which chapters went
  where.

``--ship DIR`` also writes the small committed files: ``DIR/valid.txt``
(100-200 KB of whole validation chapters), ``DIR/events.txt`` (500 event
lines) and ``DIR/SOURCES.md``.

Everything is deterministic for a given ``--seed``.
"""

import argparse
import bz2
import collections
import gzip
import hashlib
import json
import lzma
import os
import random
import re
import struct
import subprocess
import sys
import unicodedata
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(HERE, "work", "corpus")

R_LIB = "/usr/lib/R/site-library"

# package -> (lazy-load data base prefix, [(object, book id, title, author, year)])
SOURCES = [
    {
        "package": "r-cran-janeaustenr",
        "db": R_LIB + "/janeaustenr/data/Rdata",
        "books": [
            ("sensesensibility", "sense", "Sense and Sensibility", "Jane Austen", 1811),
            ("prideprejudice", "pride", "Pride and Prejudice", "Jane Austen", 1813),
            ("mansfieldpark", "mansfield", "Mansfield Park", "Jane Austen", 1814),
            ("emma", "emma", "Emma", "Jane Austen", 1815),
            ("northangerabbey", "northanger", "Northanger Abbey", "Jane Austen", 1817),
            ("persuasion", "persuasion", "Persuasion", "Jane Austen", 1817),
        ],
    },
    {
        "package": "r-cran-tokenizers",
        "db": R_LIB + "/tokenizers/data/Rdata",
        "books": [
            ("mobydick", "moby", "Moby Dick; or, The Whale", "Herman Melville", 1851),
        ],
    },
]

INSTALL_HINT = "apt-get install -y --no-install-recommends r-cran-janeaustenr r-cran-tokenizers"


class CorpusError(Exception):
    pass


# ---------------------------------------------------------------------------
# A reader for R's serialisation format (XDR, versions 2 and 3), enough for
# the data objects in a lazy-load data base: vectors, lists, pairlists,
# symbols, attributes and the common ALTREP classes.

NILSXP, SYMSXP, LISTSXP, CLOSXP, ENVSXP, PROMSXP, LANGSXP = 0, 1, 2, 3, 4, 5, 6
CHARSXP, LGLSXP, INTSXP, REALSXP, CPLXSXP, STRSXP = 9, 10, 13, 14, 15, 16
DOTSXP, VECSXP, EXPRSXP, RAWSXP, S4SXP = 17, 19, 20, 24, 25
REFSXP, NILVALUE_SXP, GLOBALENV_SXP, UNBOUNDVALUE_SXP = 255, 254, 253, 252
MISSINGARG_SXP, BASENAMESPACE_SXP, NAMESPACESXP, PACKAGESXP = 251, 250, 249, 248
PERSISTSXP, EMPTYENV_SXP, BASEENV_SXP = 247, 242, 241
ATTRLANGSXP, ATTRLISTSXP, ALTREP_SXP = 240, 239, 238
NA_INT = -2147483648


class RSym(str):
    """An R symbol (distinct from a character string)."""


class RObj:
    """An R value that is not a plain vector: kind, value, attributes."""

    def __init__(self, kind, value=None, attrs=None):
        self.kind, self.value, self.attrs = kind, value, attrs or {}

    def __repr__(self):
        return "RObj(%s)" % self.kind


class RVector(list):
    """An R atomic vector or list; ``attrs`` holds names, class etc."""

    attrs = None


class RReader:
    def __init__(self, data):
        self.d, self.p, self.refs = data, 0, []
        self.native = "utf-8"
        if self.d[:2] != b"X\n":
            raise CorpusError("not an XDR R serialisation stream (header %r)" % self.d[:2])
        self.p = 2
        version = self.int()
        self.int()  # writer's R version
        self.int()  # minimal reader version
        if version == 3:
            n = self.int()
            enc = self.d[self.p:self.p + n].decode("ascii", "replace")
            self.p += n
            self.native = "latin-1" if enc.upper() in ("ISO-8859-1", "LATIN1") else "utf-8"
        elif version != 2:
            raise CorpusError("unsupported R serialisation version %d" % version)

    def int(self):
        (v,) = struct.unpack_from(">i", self.d, self.p)
        self.p += 4
        return v

    def length(self):
        n = self.int()
        if n == -1:
            hi, lo = self.int(), self.int()
            n = (hi << 32) + lo
        return n

    def attributes(self):
        pl = self.item()
        if isinstance(pl, RObj) and pl.kind == "pairlist":
            return {str(tag): val for tag, val in pl.value}
        return {}

    def pairlist(self, flags, kind):
        items, attrs = [], {}
        while True:
            has_attr, has_tag = flags & (1 << 9), flags & (1 << 10)
            if has_attr:
                attrs = self.attributes()
            tag = self.item() if has_tag else None
            items.append((tag, self.item()))
            flags = self.int()
            t = flags & 0xFF
            if t == NILVALUE_SXP:
                break
            if t not in (LISTSXP, LANGSXP, DOTSXP, ATTRLISTSXP, ATTRLANGSXP):
                # an improper tail: read it as a value and stop
                self.p -= 4
                items.append((None, self.item()))
                break
        return RObj(kind, items, attrs)

    def item(self):
        flags = self.int()
        t = flags & 0xFF
        levels = flags >> 12
        has_attr = flags & (1 << 9)
        if t == NILVALUE_SXP:
            return None
        if t in (EMPTYENV_SXP, BASEENV_SXP, GLOBALENV_SXP, UNBOUNDVALUE_SXP,
                 MISSINGARG_SXP, BASENAMESPACE_SXP):
            return RObj("special%d" % t)
        if t == REFSXP:
            i = flags >> 8
            if i == 0:
                i = self.int()
            return self.refs[i - 1]
        if t == PERSISTSXP:
            self.int()  # flags of the following STRSXP length
            names = [self.item() for _ in range(self.length())]
            obj = RObj("persist", names)
            self.refs.append(obj)
            return obj
        if t == SYMSXP:
            sym = RSym(self.item() or "")
            self.refs.append(sym)
            return sym
        if t in (PACKAGESXP, NAMESPACESXP):
            self.int()
            info = [self.item() for _ in range(self.length())]
            obj = RObj("namespace", info)
            self.refs.append(obj)
            return obj
        if t == ENVSXP:
            self.int()  # locked
            obj = RObj("env")
            self.refs.append(obj)
            enclos, frame, hashtab, attrs = self.item(), self.item(), self.item(), self.item()
            obj.value = {"enclos": enclos, "frame": frame, "hashtab": hashtab}
            return obj
        if t in (LISTSXP, LANGSXP, CLOSXP, PROMSXP, DOTSXP, ATTRLISTSXP, ATTRLANGSXP):
            return self.pairlist(flags, "pairlist" if t in (LISTSXP, ATTRLISTSXP) else "lang%d" % t)
        if t == ALTREP_SXP:
            info, state, attr = self.item(), self.item(), self.item()
            return self.altrep(info, state, attr)
        if t == CHARSXP:
            n = self.int()
            if n == -1:
                return None  # NA_character_
            raw = self.d[self.p:self.p + n]
            self.p += n
            if levels & (1 << 2):
                return raw.decode("latin-1")
            if levels & ((1 << 3) | (1 << 6)):
                return raw.decode("utf-8", "replace")
            try:
                return raw.decode(self.native)
            except UnicodeDecodeError:
                return raw.decode("latin-1")
        if t in (LGLSXP, INTSXP):
            n = self.length()
            vals = struct.unpack_from(">%di" % n, self.d, self.p)
            self.p += 4 * n
            v = RVector(None if x == NA_INT else x for x in vals)
        elif t == REALSXP:
            n = self.length()
            v = RVector(struct.unpack_from(">%dd" % n, self.d, self.p))
            self.p += 8 * n
        elif t == CPLXSXP:
            n = self.length()
            vals = struct.unpack_from(">%dd" % (2 * n), self.d, self.p)
            self.p += 16 * n
            v = RVector(complex(vals[i], vals[i + 1]) for i in range(0, 2 * n, 2))
        elif t == RAWSXP:
            n = self.length()
            v = RVector([self.d[self.p:self.p + n]])
            self.p += n
        elif t == STRSXP:
            n = self.length()
            v = RVector(self.item() for _ in range(n))
        elif t in (VECSXP, EXPRSXP):
            n = self.length()
            v = RVector(self.item() for _ in range(n))
        elif t == S4SXP:
            v = RVector()
        else:
            raise CorpusError("unsupported R object type %d at byte %d" % (t, self.p))
        v.attrs = self.attributes() if has_attr else {}
        return v

    def altrep(self, info, state, attr):
        cls = ""
        if isinstance(info, RObj) and info.value:
            cls = str(info.value[0][1])
        if cls == "compact_intseq":
            n, start, inc = (int(x) for x in state)
            v = RVector(range(start, start + n * inc, inc))
        elif cls == "compact_realseq":
            n, start, inc = state
            v = RVector(float(start + i * inc) for i in range(int(n)))
        elif cls.startswith("wrap_"):
            v = RVector(state[0])
        elif cls == "deferred_string":
            arg = state.value[0][1] if isinstance(state, RObj) else state[0]
            v = RVector(None if x is None else str(x) for x in arg)
        else:
            raise CorpusError("unsupported ALTREP class %r" % cls)
        v.attrs = {}
        if isinstance(attr, RObj) and attr.kind == "pairlist":
            v.attrs = {str(k): val for k, val in attr.value}
        return v


def r_unserialize(data):
    return RReader(data).item()


def r_decompress(blob):
    """Undo R's R_compress1/2/3 framing used inside lazy-load .rdb files."""
    (n,) = struct.unpack_from(">I", blob, 0)
    body = blob[4:]
    if body[:1] == b"x" or body[:2] in (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda"):
        out = zlib.decompress(body)
    else:
        kind, body = body[:1], body[1:]
        if kind == b"Z":
            out = lzma.decompress(body)
        elif kind == b"2":
            out = bz2.decompress(body)
        elif kind == b"1":
            out = zlib.decompress(body)
        elif kind == b"0":
            out = body
        else:
            raise CorpusError("unknown R compression type %r" % kind)
    if len(out) != n:
        raise CorpusError("R object decompressed to %d bytes, expected %d" % (len(out), n))
    return out


def read_lazyload(prefix, names):
    """Return {name: value} for the named objects of a lazy-load data base."""
    with open(prefix + ".rdx", "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    elif raw[:3] == b"BZh":
        raw = bz2.decompress(raw)
    elif raw[:6] == b"\xfd7zXZ\x00":
        raw = lzma.decompress(raw)
    index = r_unserialize(raw)
    keys = index.attrs.get("names", [])
    variables = index[keys.index("variables")]
    var_names = variables.attrs.get("names", [])
    out = {}
    with open(prefix + ".rdb", "rb") as f:
        db = f.read()
    for name in names:
        if name not in var_names:
            raise CorpusError("object %r not found in %s.rdx (has %s)" % (name, prefix, var_names))
        off, ln = (int(x) for x in variables[var_names.index(name)])
        out[name] = r_unserialize(r_decompress(db[off:off + ln]))
    return out


# ---------------------------------------------------------------------------
# Loading and segmenting the books

def check_sources():
    missing = []
    for src in SOURCES:
        for ext in (".rdb", ".rdx"):
            path = src["db"] + ext
            if not os.path.isfile(path):
                missing.append((src["package"], path))
    if missing:
        pkgs = sorted({p for p, _ in missing})
        lines = ["missing Debian package%s: %s" % ("s" if len(pkgs) > 1 else "", ", ".join(pkgs))]
        for pkg, path in missing:
            lines.append("  %s: %s not found" % (pkg, path))
        lines.append("install with: " + INSTALL_HINT)
        raise CorpusError("\n".join(lines))


def load_books():
    books = []
    for src in SOURCES:
        objs = read_lazyload(src["db"], [b[0] for b in src["books"]])
        for obj, book_id, title, author, year in src["books"]:
            value = objs[obj]
            text = "\n".join("" if s is None else s for s in value)
            books.append({
                "package": src["package"], "object": obj, "id": book_id,
                "title": title, "author": author, "year": year,
                "text": text,
            })
    return books


AUSTEN_CHAPTER = re.compile(r"^\s*chapter\s+([ivxlc]+|\d+)\.?\s*$", re.I)
AUSTEN_END = re.compile(r"^\s*(THE END|FINIS|Finis|A NOTE ON THE TEXT)\s*$")
MOBY_CHAPTER = re.compile(r"^(CHAPTER \d+\..*|Epilogue)\s*$")
VOLUME = re.compile(r"^\s*VOLUME\s+[IVX]+\.?\s*$", re.I)


def clean_raw_text(text):
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = unicodedata.normalize("NFC", text)
    return text.replace("\t", "    ")


def segment(book):
    """Split a book into chapters: [(chapter title, [paragraph lines...])]."""
    lines = clean_raw_text(book["text"]).split("\n")
    if book["id"] == "moby":
        # Keep the novel proper: from "CHAPTER 1." to the end of the Epilogue
        # (drops the Project Gutenberg header and licence, the contents,
        # and the Etymology / Extracts front matter).
        start = next(i for i, l in enumerate(lines) if l.startswith("CHAPTER 1. "))
        end = next(i for i, l in enumerate(lines) if l.startswith("End of Project Gutenberg"))
        lines, heading, stop = lines[start:end], MOBY_CHAPTER, None
    else:
        start = next(i for i, l in enumerate(lines) if AUSTEN_CHAPTER.match(l))
        lines, heading, stop = lines[start:], AUSTEN_CHAPTER, AUSTEN_END
    chapters = []
    in_heading = False
    for line in lines:
        if stop and stop.match(line):
            break
        if heading.match(line):
            chapters.append([line.strip(), []])
            in_heading = True
            continue
        if in_heading and line.strip():
            # a chapter title wrapped onto a second line
            chapters[-1][0] += " " + line.strip()
            continue
        in_heading = False
        if VOLUME.match(line):
            continue
        chapters[-1][1].append(line)
    out = []
    for title, body in chapters:
        paras, cur = [], []
        for line in body:
            if line.strip():
                cur.append(line.rstrip())
            elif cur:
                paras.append(cur)
                cur = []
        if cur:
            paras.append(cur)
        out.append((title, paras))
    return out


# ---------------------------------------------------------------------------
# Cleaning paragraphs

ENGLISH_WORDS = set("""
a about above after again against ago ah all almost also always am among an and
another any are around as at away aye back be because been before being below
best better between both but by came can cannot come could day dear did do does
done down each enough even ever every far few first for from gave get give go
good got great had has have he her here herself him himself his how however i if
in indeed into is it its itself just know last least less like little long made
make man many may me might miss more most mr mrs much must my myself never new
no nor not nothing now o of off often oh old on once one only or other our out
over own perhaps quite rather really said same say says see seemed seen shall
she should since sir so some something soon still such than that the thee their
them themselves then there these they thing think this those thou though thought
through thus thy till time to too took two under until up upon us very was way
we well went were what when where whether which while who whole whom whose why
will with without would ye yes yet you your yourself
""".split())

WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")


def is_verse(lines):
    """Indented or short, capitalised lines: a poem, song or charade."""
    if len(lines) < 2:
        return False
    longest = max(len(l.strip()) for l in lines)
    caps = sum(1 for l in lines[1:] if re.match(r"""^\s*["'(]*[A-Z]""", l))
    return longest < 58 and caps >= 0.6 * (len(lines) - 1)


def is_table(lines):
    gaps = sum(1 for l in lines if re.search(r"\S {3,}\S", l))
    return gaps >= max(2, len(lines) // 2)


STAGE = re.compile(r"\s*\((?=[^)]*[A-Z]{2})[A-Z][A-Z ,.;:'-]*\)")
SMALL_WORDS = {"a", "an", "and", "at", "by", "for", "in", "of", "on", "the", "to", "with"}
ALLOWED = set(" .,;:!?'\"()-&$\u00a3")


def normalise(text):
    text = text.replace("_", "")           # _italics_
    text = text.replace("*", "")           # footnote markers
    text = STAGE.sub("", text)             # (ALL-CAPS STAGE DIRECTIONS)
    text = re.sub(r"(?<=[A-Za-z])- (?=[a-z])", "-", text)  # hyphen at a line break
    text = re.sub(r"\s+", " ", text).strip()
    return text


def drop_reason(text):
    """Why a cleaned paragraph is not prose, or None to keep it."""
    if not text or not any(c.isalpha() for c in text):
        return "separator"
    if text.startswith("[") or text.endswith("]"):
        return "editorial"
    if "http" in text or "gutenberg" in text.lower() or re.search(r"[<>{}\\|=@#%^~`]", text):
        return "markup"
    letters = sum(c.isalpha() for c in text)
    others = sum(1 for c in text if not (c.isalnum() or c in ALLOWED))
    digits = sum(c.isdigit() for c in text)
    if others > 0.05 * len(text) or digits > 0.1 * len(text):
        return "symbols"
    if any(ord(c) > 0x24F and c not in "\u2014\u2013\u2018\u2019\u201c\u201d" for c in text):
        return "non-latin"
    upper = sum(c.isupper() for c in text)
    words = WORD.findall(text)
    if letters >= 5 and upper > 0.5 * letters:
        return "upper-case"
    if not any(c.islower() for c in text):
        return "no-lower-case"
    if '"' not in text and len(words) <= 8 and all(
            w[0].isupper() or w.lower() in SMALL_WORDS for w in words):
        return "heading"
    if len(words) >= 6:
        english = sum(w.lower() in ENGLISH_WORDS for w in words)
        if english < 0.12 * len(words):
            return "non-english"
    return None


def clean_paragraph(lines):
    if is_verse(lines):
        return None, "verse"
    if is_table(lines):
        return None, "table"
    text = normalise(" ".join(l.strip() for l in lines))
    reason = drop_reason(text)
    return (None, reason) if reason else (text, None)


def dedup_key(text):
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


# ---------------------------------------------------------------------------
# Event sentences

ABBREV = ("Mr", "Mrs", "Messrs", "Dr", "St", "Esq", "Col", "Capt", "Gen", "Rev",
          "Lieut", "Sr", "Jr", "Mt", "No", "Vol", "viz", "i.e", "e.g", "etc", "Ch")
SENT_END = re.compile(r"""[.!?]+["')]*(?=\s+["'(]*[A-Z])""")


def sentences(text):
    out, start = [], 0
    for m in SENT_END.finditer(text):
        before = text[start:m.start()]
        last = re.search(r"([A-Za-z.]+)$", before)
        if m.group().startswith(".") and last and (
                last.group(1) in ABBREV or re.fullmatch(r"[A-Z]", last.group(1))):
            continue
        out.append(text[start:m.end()].strip())
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def event_candidate(s):
    """Return a clean event line made from sentence s, or None."""
    if s.count('"') % 2:
        # a sentence from inside a longer quotation: close or open the quote
        if s.startswith('"') and not s.endswith('"'):
            s = s + '"'
        elif s.endswith('"') and not s.startswith('"'):
            s = '"' + s
        else:
            return None
    if not 20 <= len(s) <= 200:
        return None
    if not re.match(r"""^["']?[A-Z]""", s):
        return None
    if not re.search(r"""[a-z][.!?]["']?$""", s):
        return None
    if s.count("(") != s.count(")") or "--" in s[-4:] or s.startswith('""'):
        return None
    if re.search(r"[^A-Za-z0-9 .,;:!?'\"()\-]", s):
        return None
    words = WORD.findall(s)
    if len(words) < 4:
        return None
    if sum(c.isupper() for c in s) > 0.3 * sum(c.isalpha() for c in s):
        return None
    if not any(w.lower() in ENGLISH_WORDS for w in words):
        return None
    return s


# ---------------------------------------------------------------------------
# Split, write, ship

def pick_held_out(docs_by_book, rng, take):
    """Per book, shuffle the chapters and take them while take(book, taken, next) holds."""
    held = set()
    for book_id, docs in docs_by_book.items():
        order = list(docs)
        rng.shuffle(order)
        taken = []
        for d in order:
            if not take(book_id, taken, d):
                break
            taken.append(d)
            held.add(d["key"])
    return held


def write_docs(path, docs):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for i, d in enumerate(docs):
            if i:
                f.write("\n")
            for p in d["paras"]:
                f.write(p + "\n")


def file_stats(path):
    with open(path, "rb") as f:
        data = f.read()
    text = data.decode("utf-8")
    lines = text.count("\n")
    paras = sum(1 for l in text.split("\n") if l.strip())
    return {"bytes": len(data), "lines": lines, "paragraphs": paras,
            "words": len(text.split()), "sha256": hashlib.sha256(data).hexdigest()}


def dpkg_version(pkg):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def copyright_licences(pkg):
    """The License: fields of the machine-readable copyright file, by Files: stanza."""
    path = "/usr/share/doc/%s/copyright" % pkg
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return path, []
    result = []
    def field(stanza, name):
        m = re.search(r"^%s:[ \t]*(.*(?:\n[ \t]+\S.*)*)" % name, stanza, re.M)
        return re.sub(r"\s+", " ", m.group(1)).strip() if m else ""

    for stanza in re.split(r"\n\s*\n", text):
        files, lic = field(stanza, "Files"), field(stanza, "License")
        if files and lic:
            result.append((files, lic, field(stanza, "Copyright")))
    return path, result


def ship(args, ship_dir, valid_docs, events, stats):
    os.makedirs(ship_dir, exist_ok=True)
    rng = random.Random(args.seed + 2)
    # valid: whole chapters, round-robin over the books, 100-200 KB.
    by_book = collections.OrderedDict()
    for d in valid_docs:
        by_book.setdefault(d["book"], []).append(d)
    queues = [list(v) for v in by_book.values()]
    for q in queues:
        rng.shuffle(q)
    chosen, size = [], 0
    while any(queues) and size < args.ship_valid_bytes:
        for q in queues:
            if not q or size >= args.ship_valid_bytes:
                continue
            d = q.pop(0)
            dsize = sum(len(p.encode("utf-8")) + 1 for p in d["paras"]) + 1
            if size + dsize > 200_000:
                continue
            chosen.append(d)
            size += dsize
    chosen.sort(key=lambda d: d["order"])
    write_docs(os.path.join(ship_dir, "valid.txt"), chosen)
    # events: a fixed sample, kept in corpus order.
    idx = sorted(rng.sample(range(len(events)), min(args.ship_events, len(events))))
    with open(os.path.join(ship_dir, "events.txt"), "w", encoding="utf-8", newline="\n") as f:
        for i in idx:
            f.write(events[i] + "\n")
    vs = file_stats(os.path.join(ship_dir, "valid.txt"))
    es = file_stats(os.path.join(ship_dir, "events.txt"))

    cmd = "/usr/bin/python3 training/prepare_corpus.py"
    for opt, default in (("seed", 20240601), ("valid_frac", 0.04), ("events", 2500),
                         ("ship_valid_bytes", 150_000), ("ship_events", 500)):
        if getattr(args, opt) != default:
            cmd += " --%s %s" % (opt.replace("_", "-"), getattr(args, opt))
    cmd += " --ship %s" % os.path.relpath(os.path.abspath(ship_dir), REPO)
    md = ["# Sources of the demo corpus", "",
          "Generated by `training/prepare_corpus.py` (do not edit by hand); regenerate with:", "",
          "```", INSTALL_HINT, cmd, "```", "",
          "All text is English prose first published 1811-1851 by authors who died "
          "before 1900 (Project Gutenberg transcriptions), so the texts themselves are in "
          "the public domain. They are taken from two packages of Debian's main archive "
          "that ship them as R data sets; the packages' own licence (for the packaging "
          "and R code) is given as stated in their copyright files.", ""]
    for src in SOURCES:
        pkg = src["package"]
        cpath, lics = copyright_licences(pkg)
        md += ["## %s %s" % (pkg, dpkg_version(pkg)), ""]
        md.append("- Licence (from `%s`): %s" % (cpath, "; ".join(
            "`%s`: %s (%s)" % (f, l, c) for f, l, c in lics) or "see file"))
        md.append("- Files used: `%s.rdx`, `%s.rdb` (R lazy-load data base, read "
                  "directly; R is not run)" % (src["db"], src["db"]))
        for obj, book_id, title, author, year in src["books"]:
            md.append("- Object `%s`: *%s* by %s (%d), public domain" % (obj, title, author, year))
        md.append("")
    md += ["## What was done", "",
           "- Kept the novels proper: dropped title pages, chapter and volume headings, "
           "editors' notes in brackets, the Project Gutenberg header and licence, and the "
           "*Moby Dick* Etymology/Extracts front matter.",
           "- Dropped verse, tables, all-capital lines, and non-English paragraphs; removed "
           "`_italic_` underscores and footnote asterisks; joined lines into one paragraph "
           "per line; normalised whitespace; de-duplicated paragraphs of 40+ characters.",
           "- Split by whole chapters (seed %d): %d chapters for training, %d held out for "
           "validation, %d held out for event sentences. No chapter is in two sets, and no "
           "event line occurs in the training or validation text."
           % (args.seed, stats["chapters"]["train"], stats["chapters"]["valid"],
              stats["chapters"]["events"]), "",
           "## Files here", "",
           "| file | bytes | lines | what |", "| --- | ---: | ---: | --- |",
           "| valid.txt | %d | %d | %d whole held-out chapters (one paragraph per line, blank line between chapters) |"
           % (vs["bytes"], vs["lines"], len(chosen)),
           "| events.txt | %d | %d | held-out sentences of 20-200 characters, one per line |"
           % (es["bytes"], es["lines"]), "",
           "Chapters in valid.txt: %s." % ", ".join("%s (%s)" % (d["key"], d["title"]) for d in chosen), "",
           "Full corpus (not committed, in `training/work/corpus/`): train.txt %d bytes "
           "(%d paragraphs), valid.txt %d bytes (%d paragraphs), events.txt %d lines."
           % (stats["train"]["bytes"], stats["train"]["paragraphs"], stats["valid"]["bytes"],
              stats["valid"]["paragraphs"], stats["events"]["lines"]), ""]
    with open(os.path.join(ship_dir, "SOURCES.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(md))
    return vs, es, len(chosen)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output directory (default %(default)s)")
    ap.add_argument("--seed", type=int, default=20240601, help="random seed (default %(default)s)")
    ap.add_argument("--valid-frac", type=float, default=0.04,
                    help="share of each book's text held out for validation (default %(default)s)")
    ap.add_argument("--events", type=int, default=2500,
                    help="number of event lines to write (default %(default)s)")
    ap.add_argument("--ship", metavar="DIR",
                    help="also write the small committed files valid.txt, events.txt, SOURCES.md to DIR")
    ap.add_argument("--ship-valid-bytes", type=int, default=150_000,
                    help="target size of DIR/valid.txt (default %(default)s, at most 200000)")
    ap.add_argument("--ship-events", type=int, default=500,
                    help="event lines in DIR/events.txt (default %(default)s)")
    ap.add_argument("--dump-dropped", metavar="FILE",
                    help="write every dropped paragraph with its reason to FILE (for inspection)")
    args = ap.parse_args(argv)

    try:
        check_sources()
        books = load_books()
    except CorpusError as e:
        print("prepare_corpus: error: %s" % e, file=sys.stderr)
        return 2

    drops = collections.Counter()
    dropped = []
    seen = set()
    docs = []
    order = 0
    for book in books:
        for ci, (title, paras) in enumerate(segment(book)):
            kept = []
            for lines in paras:
                text, reason = clean_paragraph(lines)
                if text is not None and len(text) >= 40:
                    k = dedup_key(text)
                    if k in seen:
                        text, reason = None, "duplicate"
                    else:
                        seen.add(k)
                if text is None:
                    drops[reason] += 1
                    dropped.append("%s/%d [%s] %s" % (book["id"], ci + 1, reason,
                                                     " | ".join(l.strip() for l in lines)))
                    continue
                kept.append(text)
            if kept:
                docs.append({"key": "%s/%03d" % (book["id"], ci + 1), "book": book["id"],
                             "title": title, "paras": kept, "order": order,
                             "bytes": sum(len(p.encode("utf-8")) + 1 for p in kept)})
                order += 1

    by_book = collections.OrderedDict()
    for d in docs:
        by_book.setdefault(d["book"], []).append(d)
    book_bytes = {b: sum(d["bytes"] for d in ds) for b, ds in by_book.items()}
    total_bytes = sum(book_bytes.values())

    rng = random.Random(args.seed)
    # Whole chapters per book, as close as possible to valid_frac of its text.
    valid_keys = pick_held_out(
        by_book, rng,
        lambda b, taken, d: sum(x["bytes"] for x in taken) + d["bytes"] / 2
        <= args.valid_frac * book_bytes[b])

    # Event chapters: taken from the remaining chapters, per book in
    # proportion to its size, until enough candidate sentences are found.
    cache = {}

    def candidates(d):
        if d["key"] in cache:
            return cache[d["key"]]
        out = cache[d["key"]] = []
        for p in d["paras"]:
            for s in sentences(p):
                c = event_candidate(s)
                if c:
                    out.append(c)
        return out

    rest = collections.OrderedDict(
        (b, [d for d in ds if d["key"] not in valid_keys]) for b, ds in by_book.items())
    want = {b: 1.1 * args.events * book_bytes[b] / total_bytes for b in by_book}
    event_keys = pick_held_out(
        rest, random.Random(args.seed + 1),
        lambda b, taken, d: sum(len(candidates(x)) for x in taken) < want[b])

    train_docs = [d for d in docs if d["key"] not in valid_keys and d["key"] not in event_keys]
    valid_docs = [d for d in docs if d["key"] in valid_keys]
    event_docs = [d for d in docs if d["key"] in event_keys]

    # Events must not occur anywhere in train or valid (e.g. a stock phrase).
    train_text = "\n".join(p for d in train_docs for p in d["paras"])
    valid_text = "\n".join(p for d in valid_docs for p in d["paras"])
    pool, seen_ev = [], set()
    for d in event_docs:
        for c in candidates(d):
            k = dedup_key(c)
            if k in seen_ev:
                continue
            seen_ev.add(k)
            core = c.strip("\"'")
            if core in train_text or core in valid_text:
                drops["event-in-train"] += 1
                continue
            pool.append(c)
    if len(pool) > args.events:
        keep = sorted(random.Random(args.seed + 3).sample(range(len(pool)), args.events))
        events = [pool[i] for i in keep]
    else:
        events = pool

    os.makedirs(args.out, exist_ok=True)
    write_docs(os.path.join(args.out, "train.txt"), train_docs)
    write_docs(os.path.join(args.out, "valid.txt"), valid_docs)
    with open(os.path.join(args.out, "events.txt"), "w", encoding="utf-8", newline="\n") as f:
        for e in events:
            f.write(e + "\n")
    if args.dump_dropped:
        with open(args.dump_dropped, "w", encoding="utf-8") as f:
            f.write("\n".join(dropped) + "\n")

    stats = {
        "seed": args.seed,
        "train": file_stats(os.path.join(args.out, "train.txt")),
        "valid": file_stats(os.path.join(args.out, "valid.txt")),
        "events": file_stats(os.path.join(args.out, "events.txt")),
        "chapters": {"train": len(train_docs), "valid": len(valid_docs), "events": len(event_docs)},
        "event_chapters_bytes": sum(d["bytes"] for d in event_docs),
        "valid_chapters": [d["key"] for d in valid_docs],
        "event_chapters": [d["key"] for d in event_docs],
        "dropped_paragraphs": dict(sorted(drops.items())),
        "sources": {s["package"]: dpkg_version(s["package"]) for s in SOURCES},
    }
    with open(os.path.join(args.out, "stats.json"), "w", encoding="utf-8") as f:
        json.dump(stats, f, indent=1)
        f.write("\n")

    print("sources: " + ", ".join("%s %s" % kv for kv in stats["sources"].items()))
    print("chapters: %d train, %d valid, %d held out for events (%d bytes of text, unused "
          "apart from the event lines)" % (len(train_docs), len(valid_docs), len(event_docs),
                                           stats["event_chapters_bytes"]))
    print("dropped paragraphs: " + ", ".join("%s %d" % kv for kv in stats["dropped_paragraphs"].items()))
    for name in ("train", "valid", "events"):
        s = stats[name]
        print("%-7s %9d bytes %7d lines %7d paragraphs %8d words  %s"
              % (name, s["bytes"], s["lines"], s["paragraphs"], s["words"],
                 os.path.join(args.out, name + ".txt")))
    if args.ship:
        vs, es, n = ship(args, args.ship, valid_docs, events, stats)
        print("shipped %s: valid.txt %d bytes (%d chapters, %d paragraphs), "
              "events.txt %d lines, SOURCES.md" % (args.ship, vs["bytes"], n,
                                                   vs["paragraphs"], es["lines"]))
    if len(events) < args.events:
        print("warning: only %d event lines (asked for %d)" % (len(events), args.events),
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
