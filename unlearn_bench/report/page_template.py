"""The results page's jinja2 template (``unlearn_bench.report.page``): one HTML file with its style and a small script
inline, so it opens offline. The script draws the per-example view of the chosen setting and method from the
JSON in ``#examples``; nothing else on the page needs it."""

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; margin-top: 2em; }
h3 { font-size: 1.05em; }
table { border-collapse: collapse; font-size: 0.78em; margin: 0.6em 0; }
th, td { border: 1px solid #ddd; padding: 2px 6px; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
tr.reference td { background: #fafafa; font-style: italic; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figcaption { font-size: 0.8em; color: #555; }
figure svg { max-width: 100%; height: auto; }
.claim { border-left: 4px solid #999; padding: 0.2em 0.8em; margin: 0.8em 0; }
.claim.reproduced { border-color: #2a7; } .claim.not-reproduced { border-color: #c33; }
.claim.inconclusive { border-color: #d90; }
.verdict { font-weight: bold; } blockquote { margin: 0.4em 0; font-style: italic; }
.small { font-size: 0.8em; color: #555; }
.grid { display: flex; flex-wrap: wrap; gap: 3px; margin-top: 0.5em; }
.cell { border: 3px solid #ccc; line-height: 0; }
.cell img { width: 42px; height: 42px; image-rendering: pixelated; }
.cell.remembered { border-color: #d62728; } .cell.overforgotten { border-color: #1f77b4; }
.cell.both-members { border-color: #999; } .cell.both-nonmembers { border-color: #eee; }
.legend span { display: inline-block; padding: 0 6px; margin-right: 6px; border: 3px solid; }
nav a { margin-right: 0.8em; } .scroll { overflow-x: auto; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p class="small">Built from {{ source }} by <code>unlearn_bench.report.page</code>. Avg. Gap: SalUn's mean of the UA,
RA, TA and MIA-Efficacy gaps to Retrain, per seed, then averaged. Paired tests: exact sign-flip test on per-seed
differences (every method of a seed shares its original, Retrain and forget set), Holm-adjusted. Group: 1 is the
closest model and every model the paired tests cannot separate from it (adjusted p &ge; 0.05); 2 the same among the
rest; and so on.</p>
<nav>{% for s in sections %}<a href="#{{ s.anchor }}">{{ s.name }}</a>{% endfor %}
{% if claims %}<a href="#claims">claims</a>{% endif %}<a href="#examples-view">per-example view</a></nav>

{% for s in sections %}
<section class="setting" id="{{ s.anchor }}">
<h2>{{ s.name }}</h2>
<p class="small">{{ s.seeds }} seeds. Cells: mean &plusmn; std over the ok seeds (mean gap to Retrain).</p>
<div class="scroll"><table class="results">
<thead><tr>{% for c in s.table.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in s.table.itertuples(index=False) %}
<tr{% if row[0] in ("Original", "Retrain") %} class="reference"{% endif %}>
{%- for v in row %}<td>{{ v }}</td>{% endfor %}</tr>
{% endfor %}
</tbody>
</table></div>
{% for caption, image in s.figures.items() %}
<figure class="plot"><figcaption>{{ caption }}</figcaption>{{ image | safe }}</figure>
{% endfor %}
</section>
{% endfor %}

{% if claims %}
<section id="claims">
<h2>The papers' claims</h2>
{% for c in claims %}
<div class="claim {{ c.verdict | replace(' ', '-') }}">
<h3>{{ c.paper }}, {{ c.setting }}: <span class="verdict">{{ c.verdict }}</span> in this regime</h3>
<blockquote>&ldquo;{{ c.quote }}&rdquo;</blockquote>
<p class="small">{{ c.citation }}; {{ c.where }}.</p>
<p class="small">Rule: {{ c.rule }}.<br>Measured: {{ c.measured }}.</p>
</div>
{% endfor %}
</section>
{% endif %}

<section id="examples-view">
<h2>Per-example view of the forget set</h2>
<p class="small">For the chosen method, each forget image is framed by what SalUn's MIA-Efficacy attack (an SVC
on the true-label confidence, fit on that model's own D_r and test outputs) decides for it, beside what the same
attack decides for Retrain on the same seed. Hover an image for its label and both confidences.</p>
<p class="legend small"><span style="border-color:#d62728">still a member (Retrain: not)</span>
<span style="border-color:#1f77b4">a non-member, Retrain: member</span>
<span style="border-color:#999">member for both</span><span style="border-color:#eee">non-member for both</span></p>
<label>Setting <select id="setting-choice"></select></label>
<label>Method <select id="method-choice"></select></label>
<p id="example-summary"></p>
<div id="example-grid" class="grid"></div>
</section>

<script type="application/json" id="examples">{{ examples | safe }}</script>
<script>
"use strict";
const EXAMPLES = JSON.parse(document.getElementById("examples").textContent);
const settingChoice = document.getElementById("setting-choice");
const methodChoice = document.getElementById("method-choice");
const KINDS = {"10": "remembered", "01": "overforgotten", "11": "both-members", "00": "both-nonmembers"};

function fillMethods() {
  const data = EXAMPLES[settingChoice.value];
  methodChoice.replaceChildren(...data.methods.map(m => new Option(m, m)));
}

function draw() {
  const data = EXAMPLES[settingChoice.value];
  const method = methodChoice.value;
  const mine = data.member[method], theirs = data.has_retrain ? data.member.retrain : null;
  const counts = {remembered: 0, overforgotten: 0, "both-members": 0, "both-nonmembers": 0};
  const cells = data.images.map((uri, i) => {
    const cell = document.createElement("span");
    const kind = theirs ? KINDS[mine[i] + theirs[i]] : (mine[i] === "1" ? "both-members" : "both-nonmembers");
    counts[kind] += 1;
    cell.className = "cell " + kind;
    const image = new Image();
    image.src = uri;
    image.alt = "forget example " + i;
    image.title = "label " + data.labels[i] + "; confidence " + method + " " + data.confidence[method][i] +
      (theirs ? ", Retrain " + data.confidence.retrain[i] : "");
    cell.appendChild(image);
    return cell;
  });
  document.getElementById("example-grid").replaceChildren(...cells);
  const members = mine.split("").filter(v => v === "1").length;
  document.getElementById("example-summary").textContent = method + " on " + settingChoice.value + ", seed " +
    data.seed + ": " + members + " of " + mine.length + " forget examples called members; still a member where " +
    "Retrain's is not: " + counts.remembered + "; a non-member where Retrain's is a member: " +
    counts.overforgotten + (theirs ? "" : " (no Retrain run for this seed: the method's decisions alone)") + ".";
}

const settings = Object.keys(EXAMPLES);
if (settings.length === 0) {
  document.getElementById("example-summary").textContent =
    "No per-example arrays in these records (arrays.npz beside a record, with a Retrain run of the same seed).";
} else {
  settingChoice.replaceChildren(...settings.map(s => new Option(s, s)));
  settingChoice.addEventListener("change", () => { fillMethods(); draw(); });
  methodChoice.addEventListener("change", draw);
  fillMethods();
  draw();
}
</script>
</body>
</html>
"""
