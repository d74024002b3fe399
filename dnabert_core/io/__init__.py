"""Sequence input: every accepted file format -> SequenceRecord, with one InputError per bad record.

Accepted formats (SPEC section 8), each plain, gzip or bgzip compressed (recognised by the gzip magic bytes 1f 8b,
never by the file name), found by :func:`detect_format` from the content (the extension is only a hint):

- ``fasta`` (``.fa .fasta .fna``): ``>id description`` headers; the id is the first word of the header (as pyfaidx
  and samtools index it), a header without one gets ``seq<N>``; sequences may span lines; blank lines are skipped.
- ``csv`` / ``tsv``: a header row with a ``sequence`` column (any case), optional ``id`` and ``label`` columns (or the
  column named by ``label_column``). Quoted fields are read; a field cannot span lines.
- ``kmer_tsv``: DNABERT's k-merized table, ``sequence<TAB>label`` with the sequence written as space-separated
  overlapping k-mers, with or without a header line (DNABERT's prom-core header is separated by spaces); the
  delimiter is the tab or comma that the header line or the first row holds. Without a header the second column is
  the label and further columns are ignored. The raw sequence is the first base of each k-mer plus the last k-mer
  (SPEC section 1); consecutive k-mers must overlap by k-1 bases.
- ``encode_data`` (``.data``): the ENCODE 690 ChIP-seq sets (Zeng et al. 2016, used by DNABERT-TF), one record a
  line, ``>chr1:100-201 SEQUENCE LABEL`` separated by whitespace: the id is the header word, the label the third.
- ``text``: one sequence per line; blank lines are skipped.

Common rules: lines end in LF, CRLF or CR; a UTF-8 byte-order mark is dropped; sequences are upper-cased (soft-masked
bases are the same bases), U becomes T, whitespace is dropped, and a character outside the IUPAC codes rejects the
record. Ids missing from the file are ``seq<N>``, N the 1-based record number in the file; repeated ids get ``_2``,
``_3``, ... Files are streamed: memory does not grow with the sequences read, only with the set of ids seen (and
one record's bases, one byte each). A directory, an input without records, binary data or FASTQ is one InputError;
:class:`ReadLimits` stops reading at a number of records, bases or decompressed bytes.

Modules: :mod:`.sniff` (which format), :mod:`.lines` (bytes -> lines), :mod:`.parsers` (lines -> records),
:mod:`.normalise` (sequence text -> checked bases),
:mod:`.genome` (:class:`Genome`: indexed random access to a reference FASTA, plain, bgzip, or plain gzip decompressed
once into a cache, through pyfaidx; :func:`parse_region` reads ``chr:start-end`` strings).
"""
from __future__ import annotations

from dnabert_core.io.genome import Genome, parse_region
from dnabert_core.io.normalise import IUPAC_DNA, normalise_sequence
from dnabert_core.io.parsers import ParsedInput, ReadLimits, iter_records, parse_bytes, parse_text, read_records
from dnabert_core.io.sniff import FORMATS, detect_format

__all__ = [
    "FORMATS",
    "IUPAC_DNA",
    "Genome",
    "ParsedInput",
    "ReadLimits",
    "detect_format",
    "iter_records",
    "normalise_sequence",
    "parse_bytes",
    "parse_region",
    "parse_text",
    "read_records",
]
