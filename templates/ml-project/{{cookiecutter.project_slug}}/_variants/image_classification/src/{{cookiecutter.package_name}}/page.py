"""The upload page at ``GET /``: choose or drop an image, see it, see the top-3 labels as bars and
the model version. One self-contained HTML document (inline CSS and script, no CDN: it works
offline); it calls ``POST /predict`` with the file as multipart form data.

Template-owned: edit templates/ml-project, then `make sync`.
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Image classifier</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  #drop { border: 2px dashed #888; border-radius: 8px; padding: 2rem; text-align: center; cursor: pointer; }
  #drop.over { background: #eef; border-color: #448; }
  #preview { max-width: 14rem; max-height: 14rem; image-rendering: pixelated; display: none; margin: 1rem auto; }
  .row { display: flex; align-items: center; gap: .5rem; margin: .3rem 0; }
  .name { width: 9rem; text-align: right; }
  .bar { height: 1.1rem; background: #47a; border-radius: 3px; }
  .pct { width: 4rem; font-variant-numeric: tabular-nums; }
  #error { color: #b00; }
  footer { margin-top: 2rem; font-size: .85rem; color: #666; }
</style>
</head>
<body>
<h1>Image classifier</h1>
<label id="drop" for="file">Drop an image here, or click to choose one (PNG or JPEG)
  <input id="file" name="file" type="file" accept="image/*" hidden>
</label>
<img id="preview" alt="the chosen image">
<p id="status" aria-live="polite"></p>
<div id="result" aria-label="top three labels"></div>
<p id="error" role="alert"></p>
<footer>Model version: <span id="version">-</span> &middot; <a href="docs">API docs</a></footer>
<script>
const $ = (id) => document.getElementById(id);
async function classify(file) {
  $("error").textContent = ""; $("result").textContent = ""; $("status").textContent = "Classifying...";
  $("preview").src = URL.createObjectURL(file); $("preview").style.display = "block";
  const form = new FormData(); form.append("file", file);
  try {
    const response = await fetch("predict", { method: "POST", body: form });
    const body = await response.json();
    if (!response.ok) { throw new Error(body.error || response.statusText); }
    $("version").textContent = body.model_version;
    $("status").textContent = "Prediction: " + body.label;
    for (const guess of body.top) {
      const row = document.createElement("div"); row.className = "row"; row.dataset.label = guess.label;
      const name = document.createElement("span"); name.className = "name"; name.textContent = guess.label;
      const bar = document.createElement("span"); bar.className = "bar";
      bar.style.width = Math.max(1, Math.round(guess.probability * 240)) + "px";
      const pct = document.createElement("span"); pct.className = "pct";
      pct.textContent = (100 * guess.probability).toFixed(1) + "%";
      row.append(name, bar, pct); $("result").append(row);
    }
  } catch (err) {
    $("status").textContent = ""; $("error").textContent = "Could not classify the image: " + err.message;
  }
}
$("file").addEventListener("change", (e) => { if (e.target.files.length) classify(e.target.files[0]); });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault(); drop.classList.remove("over");
  if (e.dataTransfer.files.length) classify(e.dataTransfer.files[0]);
});
fetch("metadata").then((r) => r.ok ? r.json() : null).then((m) => { if (m) $("version").textContent = m.version; });
</script>
</body>
</html>
"""
