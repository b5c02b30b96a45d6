"""The HTML of a static twin: a control row like the live panel's and one image whose file follows it.

Sliders are ``<input type=range>`` over the indices of the grid's values with a readout of the current
value (arrow keys, Home/End and Page keys move them); dropdowns are ``<select>``. On every change the
script builds the frame's file name from the controls (``name-value`` parts joined by '_', as
``fmtutor.static.frame_name`` does) and swaps the image's file, keeping its folder: only the frame on
screen is fetched. The image carries ``loading="lazy"``, so opening a chapter fetches only the twins
near the screen. The row wraps at phone width; the image scales down with the column.
"""

from __future__ import annotations

import html as _html
import json

__all__ = ["html", "STYLE", "SCRIPT"]

STYLE = """<style>
.fmt-static{max-width:100%;margin:.5em 0 1em}
.fmt-static .fmt-controls{display:flex;flex-direction:column;gap:4px;margin-bottom:6px;max-width:100%}
.fmt-static .fmt-control{display:flex;align-items:center;gap:8px;flex-wrap:wrap;font-size:13px;max-width:460px}
.fmt-static .fmt-control label{flex:0 0 84px;text-align:right;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.fmt-static .fmt-control input[type=range]{flex:1 1 140px;min-width:0;max-width:260px;margin:0;accent-color:#2196f3}
.fmt-static .fmt-control output{flex:0 0 auto;min-width:3.5em;font-variant-numeric:tabular-nums}
.fmt-static .fmt-control select{flex:0 1 auto;min-width:8em;max-width:100%;font-size:13px;padding:2px 4px}
.fmt-static img.fmt-frame{display:block;max-width:100%;height:auto}
@media (max-width:480px){.fmt-static .fmt-control label{flex-basis:64px}}
</style>"""

SCRIPT = """<script>
(function (root) {
  if (!root || root.dataset.ready) return;
  root.dataset.ready = "1";
  var spec = JSON.parse(root.dataset.frames), img = root.querySelector("img.fmt-frame");
  var inputs = spec.controls.map(function (c) { return root.querySelector('[data-control="' + c.name + '"]'); });
  function show() {
    var parts = spec.controls.map(function (c, i) {
      var k = Number(inputs[i].value);
      if (c.kind === "slider") {
        var out = root.querySelector('output[data-control="' + c.name + '"]');
        out.textContent = c.labels[k];
        inputs[i].setAttribute("aria-valuetext", c.labels[k]);
      }
      return c.name + "-" + c.slugs[k];
    });
    var file = parts.join("_") + "." + spec.format;
    img.src = img.src.replace(/[^/?#]*([?#].*)?$/, function (_, rest) { return file + (rest || ""); });
    img.alt = img.dataset.alt + ": " + spec.controls.map(function (c, i) {
      return c.label + " " + c.labels[Number(inputs[i].value)];
    }).join(", ");
    root.dataset.frame = file;
  }
  inputs.forEach(function (input) { input.addEventListener("input", show); input.addEventListener("change", show); });
})(document.getElementById(%(id)s));
</script>"""


def _control(index: int, control: dict, uid: str) -> str:
    name, label = control["name"], _html.escape(control["label"])
    ident = f"{uid}-{name}"
    if control["kind"] == "dropdown":
        options = "".join(
            f'<option value="{k}"{" selected" if k == control["index"] else ""}>{_html.escape(text)}</option>'
            for k, text in enumerate(control["labels"])
        )
        field = f'<select id="{ident}" data-control="{name}">{options}</select>'
    else:
        value = control["labels"][control["index"]]
        field = (
            f'<input type="range" id="{ident}" data-control="{name}" min="0" '
            f'max="{len(control["labels"]) - 1}" step="1" value="{control["index"]}" '
            f'aria-valuetext="{_html.escape(value)}">'
            f'<output for="{ident}" data-control="{name}">{_html.escape(value)}</output>'
        )
    return f'<div class="fmt-control"><label for="{ident}">{label}</label>{field}</div>'


def _settings(spec: dict) -> str:
    """The controls' current values in words, e.g. "time t 0.50, solver Euler" (the frame's alt text)."""
    return ", ".join(f"{c['label']} {c['labels'][c['index']]}" for c in spec["controls"])


def html(spec: dict, src: str, width: int, height: int, uid: str, alt: str = "") -> str:
    """The twin's HTML: style, control row, first frame ``src`` shown at ``width`` x ``height`` CSS px."""
    uid = "fmt-" + uid
    controls = "".join(_control(i, c, uid) for i, c in enumerate(spec["controls"]))
    data = _html.escape(json.dumps(spec, separators=(",", ":")), quote=True)
    return (
        f'{STYLE}<div class="fmt-static" id="{uid}" data-frames="{data}">'
        f'<div class="fmt-controls">{controls}</div>'
        f'<img class="fmt-frame" src="{_html.escape(src)}" width="{width}" height="{height}" '
        f'loading="lazy" data-alt="{_html.escape(alt)}" alt="{_html.escape(alt)}: {_html.escape(_settings(spec))}">'
        "</div>" + SCRIPT % {"id": json.dumps(uid)}
    )
