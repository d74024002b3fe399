"""Write the app's one-click examples (assets/examples/) from held-out data only.

    python scripts/make_examples.py [--data data] [--shared ../shared/data]

- promoters.fa: two TATA promoters, two non-TATA promoters and two negatives of the promoter-300 test split (fold 4).
- ctcf.fa: three CTCF peaks and two background sequences of the tfbs-ctcf test split (chr1, chr8): a shuffled
  peak and a genome window.
- splice.fa: one acceptor, one donor and one non-site of the splice-400 test split.
- region.fa: 3 kb of chr22 from the pre-training hold-out (22:21,500,001-21,503,000), longer than one window.
- variants_region.fa + variants.vcf: the Compare alleles page's known reference and VCF: 3.3 kb of chr22 around ADA2
  (22:17,660,851-17,664,150, hg19) and the ClinVar and 1000 Genomes variants inside it whose 150 bp flanks fit, in the
  region's own coordinates (contig "chr22_17660851_17664150"; ID = hg19 position and alleles; INFO SOURCE and CLNSIG).
The first records of each split that qualify are taken (files in split order), so the choice is reproducible.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rows(path: Path) -> list[dict]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def fasta(records: list[tuple[str, str]]) -> str:
    return "".join(f">{name}\n{sequence}\n" for name, sequence in records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    out = ROOT / "assets" / "examples"
    out.mkdir(parents=True, exist_ok=True)
    tata = {line.strip() for line in (args.shared / "deepromoter-tata/hs_pos_TATA.txt").read_text().splitlines()}
    test = rows(args.data / "promoter-300/test.csv")
    chosen = ([(f"TATA_promoter_{r['id']}", r["sequence"]) for r in test if r["label"] == "1" and r["sequence"] in tata][:2]
              + [(f"promoter_{r['id']}", r["sequence"]) for r in test if r["label"] == "1" and r["sequence"] not in tata][:2]
              + [(f"non_promoter_{r['id']}", r["sequence"]) for r in test if r["label"] == "0"][:2])
    (out / "promoters.fa").write_text(fasta(chosen))
    test = rows(args.data / "tfbs-ctcf/test.csv")
    chosen = ([(f"CTCF_peak_{r['id']}", r["sequence"]) for r in test if r["label"] == "1"][:3]
              + [(f"background_{r['id']}", r["sequence"]) for r in test if r["label"] == "0"][:2])
    (out / "ctcf.fa").write_text(fasta(chosen))
    test = rows(args.data / "splice-400/test.csv")
    names = {"0": "acceptor", "1": "donor", "2": "neither"}
    chosen = [next((f"{names[c]}_{r['id']}", r["sequence"]) for r in test if r["label"] == c) for c in "012"]
    (out / "splice.fa").write_text(fasta(chosen))
    import sys

    sys.path.insert(0, str(ROOT))
    from dnabert_core.io import Genome

    with Genome(args.shared / "hg19-chr22-part/chr22_part.fa.gz") as genome:
        region = genome.fetch("22", 21_500_000, 21_503_000).upper()
    (out / "region.fa").write_text(fasta([("chr22:21500001-21503000 hg19, held out from pre-training", region)]))
    variant_example(args.shared, out)
    for path in sorted(out.glob("*.fa")):
        print(path, path.read_text().count(">"), "records")


VARIANT_REGION = ("22", 17_660_850, 17_664_150)  # 0-based, half-open


def variant_example(shared: Path, out: Path, flank: int = 150) -> None:
    """variants_region.fa and variants.vcf (see the module docstring): SNVs and short indels only."""
    import gzip
    import sys

    sys.path.insert(0, str(ROOT))
    from dnabert_core.io import Genome

    chrom, start, end = VARIANT_REGION
    contig = f"chr22_{start + 1}_{end}"
    with Genome(shared / "hg19-chr22-part/chr22_part.fa.gz") as genome:
        bases = genome.fetch(chrom, start, end).upper()
    found: dict[tuple[int, str, str], list[str]] = {}
    with gzip.open(shared / "hg19-chr22-part/Clinvar.tsv.gz", "rt") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        col = {name: header.index(name) for name in ("start", "reference", "alternative",
                                                     "summary_clinvar_pathogenicity_label")}
        for line in handle:
            f = line.rstrip("\n").split("\t")
            found.setdefault((int(f[col["start"]]), f[col["reference"]], f[col["alternative"]]), []).append(
                f"SOURCE=ClinVar;CLNSIG={f[col['summary_clinvar_pathogenicity_label']].replace(' ', '_') or 'NA'}")
    with gzip.open(shared / "hg19-chr22-part/ALL.chr22.phase3_shapeit2_mvncall_integrated_v5b.20130502.sites.vcf.gz",
                   "rt") as handle:
        for line in handle:
            if not line.startswith("#"):
                f = line.split("\t")
                for alt in f[4].split(","):
                    found.setdefault((int(f[1]), f[3], alt), []).append("SOURCE=1000Genomes")
    rows = []
    for (pos, ref, alt), infos in sorted(found.items()):
        local = pos - start
        ok = set(ref + alt) <= set("ACGT") and len(ref) <= 20 and len(alt) <= 20
        if ok and local - 1 - flank >= 0 and local - 1 + len(ref) + flank <= len(bases):
            if bases[local - 1 : local - 1 + len(ref)] == ref:
                rows.append(f"{contig}\t{local}\t22:{pos}:{ref}>{alt}\t{ref}\t{alt}\t.\t.\t{infos[0]}")
    (out / "variants_region.fa").write_text(fasta([(f"{contig} hg19 chr22:{start + 1}-{end}", bases)]))
    (out / "variants.vcf").write_text(
        "##fileformat=VCFv4.2\n##source=scripts/make_examples.py (ClinVar and 1000 Genomes phase 3, hg19)\n"
        f"##contig=<ID={contig},length={len(bases)}>\n"
        '##INFO=<ID=SOURCE,Number=1,Type=String,Description="Where the variant comes from">\n'
        '##INFO=<ID=CLNSIG,Number=1,Type=String,Description="ClinVar clinical significance">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(f"{r}\n" for r in rows))
    print(out / "variants.vcf", len(rows), "variants")


if __name__ == "__main__":
    main()
