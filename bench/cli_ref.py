"""Reference for bench:cli: coco-caption's scorers (pycocoevalcap) as a user runs
them: read COCO results and annotations, PTB-tokenise, BLEU-1..4, CIDEr-D,
ROUGE-L. Prints one JSON line: {"available", "seconds", "scores", "tokenizer"}
(or why not). PTB tokenisation needs Java and Stanford CoreNLP's jar; where the
jar is absent (some checkouts store it in Git LFS) the text is tokenised by a
plain lower-case split with coco-caption's punctuation list instead, which is
cheaper than the Java tokenizer, and "tokenizer" says "substitute"."""
import json
import sys
import time

t0 = time.perf_counter()
try:
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
except Exception as e:  # noqa: BLE001 - any import failure means "not available"
    print(json.dumps({"available": False, "reason": f"pycocoevalcap is not importable: {e}"}))
    sys.exit(0)

pred_path, refs_path = sys.argv[1], sys.argv[2]
with open(pred_path) as f:
    preds = json.load(f)
with open(refs_path) as f:
    refs = json.load(f)
gts, res = {}, {}
for a in refs["annotations"]:
    gts.setdefault(a["image_id"], []).append({"caption": a["caption"]})
for p in preds:
    res[p["image_id"]] = [{"caption": p["caption"]}]
PUNCTUATION = {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"}


def substitute_tokenize(caps):
    out = {}
    for k, v in caps.items():
        out[k] = []
        for c in v:
            words = c["caption"].lower().replace(".", " . ").replace(",", " , ").split()
            out[k].append(" ".join(w for w in words if w not in PUNCTUATION))
    return out


import os  # noqa: E402
import shutil  # noqa: E402
import pycocoevalcap.tokenizer.ptbtokenizer as ptb  # noqa: E402

jar = os.path.join(os.path.dirname(ptb.__file__), "stanford-corenlp-3.4.1.jar")
# the tokenizer prints nothing (and every caption becomes empty) when java or the jar is missing
if shutil.which("java") and os.path.isfile(jar) and os.path.getsize(jar) > 1_000_000:
    tokenizer = "ptb"
    tok = PTBTokenizer()
    gts, res = tok.tokenize(gts), tok.tokenize(res)
else:
    tokenizer = "substitute"
    gts, res = substitute_tokenize(gts), substitute_tokenize(res)
scores = {}
b, _ = Bleu(4).compute_score(gts, res)
for i, v in enumerate(b):
    scores[f"BLEU-{i + 1}"] = v
scores["CIDEr"], _ = Cider().compute_score(gts, res)
scores["ROUGE-L"], _ = Rouge().compute_score(gts, res)
print(json.dumps({"available": True, "seconds": time.perf_counter() - t0, "scores": scores, "tokenizer": tokenizer}))
