#!/usr/bin/env bash
# Retrain the four embedded default models from ../shared/data, then copy them into assets/models/.
#
#     scripts/train_defaults.sh [RUNS_DIR]        (default RUNS_DIR: runs/defaults)
#
# A finished model (its folder has metrics.json, or model.safetensors for the encoder) is kept; an unfinished one
# resumes from its checkpoint, so an interrupted run goes on where it stopped. Sizes and steps were chosen for 2 CPU
# cores (about 2.5 hours in all); on a GPU raise the steps (STEPS_SCALE=10 multiplies them all). Fine-tuning runs
# without dropout: on CPU dropout's random numbers cost more than half of a step, and these short runs underfit.
# Environment: SHARED (default ../shared/data), THREADS (default 2), STEPS_SCALE (default 1). A GPU is used when present.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-runs/defaults}
SHARED=${SHARED:-../shared/data}
THREADS=${THREADS:-2}
SCALE=${STEPS_SCALE:-1}
DNABERT=(python -m viz.cli)
steps() { echo $(( $1 * SCALE )); }
mkdir -p "$RUNS"

python scripts/prepare_default_data.py --shared "$SHARED" --out data
python scripts/prepare_pretrain_text.py --shared "$SHARED" --data data --out data/pretrain

# 1. The pre-trained encoder (BERT's recipe: most tokens at 128, then 512): chr22 genome text (held-out
#    22:21000001-22000000) with every labelled task sequence masked out, plus the promoter training positives.
#    About 56M masked-LM input tokens (5000 x 64 x 128 + 1800 x 16 x 512), 40 per parameter of the 1.4M-parameter 4x128
#    model. Compositional k-mer and sinusoidal position embeddings (the default of a new model) leave the early
#    "copy the input" plateau that random ones sat on for 1,300 steps (held-out accuracy 0.10, loss 7.1).
PRETRAIN=(--fasta "$SHARED/hg19-chr22-part/chr22_part.fa.gz" --region 22:16050001-21000000
          --holdout 22:21000001-22000000 --text data/pretrain/promoters.txt --exclude data/pretrain/exclude.txt
          --k 6 --size small --dropout 0 --eval-every 100 --log-every 10 --threads "$THREADS" --quiet)
# A runs folder that already holds the final encoder (e.g. seeded with assets/models/dnabert-small-6 to retrain
# only the task models) skips every phase; tfbs-ctcf and splice-400 start from phase 2, dnabert-small-6-512, which is
# the encoder shipped at commit 3fbf11d (mkdir -p $RUNS/dnabert-small-6-512; for f in $(git ls-tree --name-only
# 3fbf11d assets/models/dnabert-small-6/); do git show 3fbf11d:$f > $RUNS/dnabert-small-6-512/$(basename $f); done).
if [ ! -f "$RUNS/dnabert-small-6/model.safetensors" ]; then
    [ -f "$RUNS/dnabert-small-6-128/model.safetensors" ] || "${DNABERT[@]}" pretrain "${PRETRAIN[@]}" \
        -o "$RUNS/dnabert-small-6-128" --max-tokens 128 --steps "$(steps 4000)" --batch-size 64 --lr 2e-3 \
        --warmup 200 --save-every 50
    # 1b. 128-token pieces at random position offsets: phase 1 trained positions 0-127 only, and a 512-token phase
    #     that starts from the untouched 128-511 learns them slowly (held-out accuracy 0.60 at 128 tokens, 0.20 at 512
    #     after 200 steps at 512, lr 1e-3 or 5e-4), so every position is trained first at the short pieces' cost.
    [ -f "$RUNS/dnabert-small-6-128o/model.safetensors" ] || "${DNABERT[@]}" pretrain "${PRETRAIN[@]}" \
        -o "$RUNS/dnabert-small-6-128o" --init "$RUNS/dnabert-small-6-128" --position-offsets --max-tokens 128 \
        --steps "$(steps 1000)" --batch-size 64 --lr 1e-3 --warmup 100 --save-every 50
    [ -f "$RUNS/dnabert-small-6-512/model.safetensors" ] || "${DNABERT[@]}" pretrain "${PRETRAIN[@]}" \
        -o "$RUNS/dnabert-small-6-512" --init "$RUNS/dnabert-small-6-128o" --max-tokens 512 --steps "$(steps 200)" \
        --batch-size 16 --lr 5e-4 --warmup 20 --save-every 25
    # 3. More 512-token pieces, the promoters now joined 20 at a time and rotated (promoters_joined.txt). One promoter
    #    per piece (two thirds of phase 2's pieces, half of them not cut again) put a TSS at base 250 of a third of
    #    them, and phase 2 learnt that place: the [CLS] of every input, random DNA too, attended to base 248 (layer 2
    #    head 1, 78% of its mass there), and fine-tuning sharpened it into the positional peak of every landscape
    #    (promoter-300 from phase 2: argmax 251 in every input; from phase 3: 222 in TATA promoters). The lock itself
    #    is what a [CLS] with no objective does (re-initialised [CLS] rows locked on base 185 instead, not used).
    #    A retrain from scratch should use the joined text from phase 1 on; phases 1-2 keep the text they were trained
    #    on, so that this script reproduces the shipped encoder.
    [ -f "$RUNS/dnabert-small-6-joined/model.safetensors" ] || "${DNABERT[@]}" pretrain \
        "${PRETRAIN[@]/promoters.txt/promoters_joined.txt}" -o "$RUNS/dnabert-small-6-joined" \
        --init "$RUNS/dnabert-small-6-512" --max-tokens 512 --steps "$(steps 1000)" --batch-size 16 --lr 5e-4 \
        --warmup 50 --save-every 25
    # 4. The [CLS] composition objective (--cls-composition): [CLS], read through the masked-LM head, also predicts
    #    each piece's 3-mer composition, so that it learns to read the piece (held-out KL 4.34 -> 0.074 nats; the
    #    pooled composition, which ignores the piece, 0.182). Masked-LM numbers stay (0.615 -> 0.612 accuracy).
    #    promoter-300 from it: dev MCC 0.632 (from phase 3: 0.621), pairwise r of random DNA's landscapes 0.16 (0.39).
    "${DNABERT[@]}" pretrain "${PRETRAIN[@]/promoters.txt/promoters_joined.txt}" -o "$RUNS/dnabert-small-6" \
        --init "$RUNS/dnabert-small-6-joined" --max-tokens 512 --steps "$(steps 600)" --batch-size 16 --lr 5e-4 \
        --warmup 50 --save-every 25 --cls-composition 1.0
fi

finetune() {  # name, steps, eval-every, class names, data note, then --heldout NAME=FILE options; ENCODER: the start
    local name=$1 n=$2 every=$3 names=$4 note=$5
    shift 5
    if [ -f "$RUNS/$name/metrics.json" ]; then return; fi
    "${DNABERT[@]}" finetune -m "${ENCODER:-$RUNS/dnabert-small-6}" --train "data/$name/train.csv" \
        --dev "data/$name/dev.csv" --test "data/$name/test.csv" -o "$RUNS/$name" --class-names "$names" \
        --data-note "$note" \
        --steps "$(steps "$n")" --batch-size 32 --lr 3e-4 --dropout 0 --eval-every "$every" --patience 6 \
        --threads "$THREADS" --cnn-minutes 10 "$@"
}
heldout() {  # task, set names: --heldout options for data/<task>/heldout/<name>.csv
    local task=$1
    shift
    for set in "$@"; do printf -- '--heldout\n%s=data/%s/heldout/%s.csv\n' "$set" "$task" "$set"; done
}
mapfile -t PROMOTER_SETS < <(heldout promoter-300 gena random_substitution dinucleotide_shuffle genomic \
    genomic_random gue_prom_300_all)
finetune promoter-300 2500 250 non_promoter,promoter \
    "GENA-LM promoter-300 (github.com/AIRI-Institute/GENA_LM, MIT; Fishman et al.): human EPDnew promoters (hg38), 300 bp (-249..+50 around the TSS). Deduplicated across folds; folds 1-3 train (10% dev), fold 4 test, fold-4 sequences removed from training. Negatives made four ways from the training positives, one per positive, the kinds in turn (scripts/prepare_default_data.py): GENA's own construction (DeePromoter: 20 pieces, 12 shuffled among themselves), random substitution of 12 of the 20 pieces, dinucleotide shuffles, and GC-matched 300 bp windows of hg19 chr22 16.05-19 Mb (never overlapping a promoter or any task sequence). The test set pairs each fold-4 promoter with one negative, the kinds in turn: GENA's own fold-4 negatives, substitution, dinucleotide shuffle, GC-matched windows of chr22 19-22 Mb. Each held-out set below pairs the fold-4 promoters with one kind; gue_prom_300_all is GUE's prom_300_all test set (DNABERT-2) minus every sequence that occurs in our training or dev data." \
    "${PROMOTER_SETS[@]}"
# tfbs-ctcf overfitted its 13k peaks without dropout (training loss 0.15, dev AUROC flat from step 750 at 0.92): a
# binding site has no strand, so it trains on both strands (the peers too) with dropout.
mapfile -t CTCF_SETS < <(heldout tfbs-ctcf encode_shuffled genomic)
# Fine-tuned from phase 2: the same recipe from phase 3 gave test AUROC 0.933 / MCC 0.719 against 0.941 / 0.742 (one
# run each; 101 bp inputs use few of the positions phase 3 trained longer), so the phase-2 model stays.
ENCODER="$RUNS/dnabert-small-6-512" finetune tfbs-ctcf 2500 250 background,ctcf_peak \
    "ENCODE 690 uniform TFBS peaks (hg19), Gm12878 CTCF (Broad), as collected by Zeng et al., Bioinformatics 2016 and used by DNABERT; copy from github.com/lhy0322/TFBert (MIT). 101 bp peak centres. Split by chromosome: test chr1 and chr8, dev chr2, train the rest; exact duplicates removed. Negatives: ENCODE's shuffled peaks for half the positives, GC-matched 101 bp windows of hg19 chr22 (16.05-19 Mb for train and dev, 19-22 Mb for test, never overlapping a peak) for the other half. Held-out sets: the test peaks against ENCODE's shuffled test negatives, and against GC-matched genome windows." \
    "${CTCF_SETS[@]}" --add-reverse-complements --dropout 0.1
mapfile -t SPLICE_SETS < <(heldout splice-400 gue ensemblesplice_decoys)
# The shipped splice-400 was fine-tuned from phase 2 (its retrain from phase 3 is still to do): this reproduces it.
ENCODER="$RUNS/dnabert-small-6-512" finetune splice-400 2500 250 acceptor,donor,neither \
    "DNABERT's reconstructed human splice-site set as shipped in GUE (Zhou et al., DNABERT-2, ICLR 2024; copy from github.com/wds-seu/DeepGene, Apache-2.0), 400 bp windows: acceptor (AG at 198-199), donor (GT at 200-201) or neither; plus EnsembleSplice's human set (Akpokiro et al. 2022; github.com/OluwadareLab/EnsembleSplice), 602 bp windows cut to the same 400 bp frame, whose negatives are decoy GT/AG sites (label neither). Pooled and deduplicated; sequences sharing their central 60 bp are one group; groups split 80/10/10 stratified by class and source. Held-out sets: the GUE part and the EnsembleSplice part (true sites against decoys) of the test split." \
    "${SPLICE_SETS[@]}"

python scripts/ship_defaults.py "$RUNS" assets/models
