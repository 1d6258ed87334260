/**
 * The dashboard's whole style sheet and script, inlined into each page (one round trip,
 * allowed by a per-response CSP nonce). Every page works without the script: it only
 * adds copy buttons, confirmation dialogs and focus on what changed.
 */
export const CSS = `
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--accent:#0a55c7;--danger:#b0221a;--ok:#116329;--warn:#7d4e00}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#fff}
a{color:var(--accent)}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.skip{position:absolute;left:-9999px}.skip:focus{left:8px;top:8px;z-index:9;background:#fff;padding:8px 12px}
.top{display:flex;flex-wrap:wrap;align-items:center;gap:4px 16px;padding:8px 16px;border-bottom:1px solid var(--line);background:var(--soft)}
.brand{font-weight:700;font-size:1.1rem;color:var(--fg);text-decoration:none;margin-right:auto}
.top form{margin:0}
main{max-width:1080px;margin:0 auto;padding:8px 16px 48px}
main.narrow{max-width:30rem}
h1{font-size:1.6rem;line-height:1.25;margin:16px 0 8px}
h2{font-size:1.2rem;margin:28px 0 8px}
p{margin:8px 0}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
button,.btn{white-space:nowrap;font:inherit;display:inline-flex;align-items:center;justify-content:center;gap:6px;min-height:44px;padding:6px 14px;border:1px solid #818b98;border-radius:6px;background:#fff;color:var(--fg);text-decoration:none;cursor:pointer}
button:hover,.btn:hover{background:var(--soft)}
.primary{background:var(--accent);border-color:var(--accent);color:#fff}
.primary:hover{background:#0847a6}
.danger{color:var(--danger);border-color:var(--danger)}
.linklike{border:0;background:none;color:var(--accent);text-decoration:underline;padding:0 4px}
.small{min-height:36px;padding:2px 10px;font-size:.9rem}
.actions{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:12px 0}
.actions form{margin:0}
label{display:block;font-weight:600;margin:16px 0 4px}
.hint{color:var(--muted);font-size:.9rem;margin:2px 0 6px;font-weight:400}
.opt{color:var(--muted);font-weight:400}
input[type=text],input[type=url],input[type=password],select{font:inherit;width:100%;max-width:40rem;min-height:44px;padding:6px 10px;border:1px solid #818b98;border-radius:6px;background:#fff;color:var(--fg)}
[aria-invalid=true]{border:2px solid var(--danger)}
.field-error{color:var(--danger);font-weight:600;margin:4px 0}
.box{border:1px solid var(--line);border-radius:8px;padding:12px 16px;margin:12px 0}
.box h2{margin:0 0 4px;font-size:1.05rem}
.notice{border-color:var(--ok);background:#dafbe1}
.warning{border:2px solid var(--warn);background:#fff8c5}
.errors{border:2px solid var(--danger);background:#ffebe9}
.errors ul{margin:4px 0;padding-left:20px}
.usage{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;margin:8px 0 16px}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;vertical-align:top;padding:8px;border-bottom:1px solid var(--line)}
th{font-size:.85rem;color:var(--muted);font-weight:600}
tr.off{background:#fffbe6}
.url{overflow-wrap:anywhere}
.muted{color:var(--muted)}
.badge{display:inline-block;padding:0 8px;border-radius:999px;font-size:.85rem;font-weight:600;border:1px solid;white-space:nowrap}
.s-delivered,.s-active,.s-success{color:#116329;background:#dafbe1}
.s-failed,.s-off,.s-http_status,.s-timeout,.s-network{color:#a0111f;background:#ffebe9}
.s-pending,.s-in_flight{color:#0a3069;background:#ddf4ff}
.s-skipped,.s-paused{color:#3d444d;background:#eff2f5}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:12px 0}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0;overflow-wrap:anywhere}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.875rem}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:8px;margin:4px 0;max-height:14rem;overflow:auto}
.secret code{display:block;padding:8px;background:var(--soft);border:1px solid var(--line);border-radius:6px;overflow-wrap:anywhere}
fieldset{border:1px solid var(--line);border-radius:8px;margin:16px 0 0;padding:4px 12px 8px;max-width:48rem}
fieldset[aria-invalid=true]{border:2px solid var(--danger)}
legend{font-weight:600;padding:0 4px}
.check{display:flex;gap:10px;align-items:flex-start;font-weight:400;margin:6px 0}
.check input{width:20px;height:20px;margin:2px 0 0;flex:none}
details.group{border-top:1px solid var(--line)}
summary{cursor:pointer;padding:8px 0;min-height:44px}
.attempts{list-style:none;padding:0;margin:4px 0}
.attempts li{border-left:3px solid var(--line);padding:2px 0 2px 10px;margin:8px 0}
.toolbar{display:flex;flex-wrap:wrap;gap:12px 40px;align-items:flex-end;margin:8px 0 16px}
.toolbar>form{flex:0 0 auto;max-width:100%}
.toolbar .hint{flex:1 1 12rem;margin:0 0 10px}
td .actions{margin:6px 0 0}
.warning dl.facts{margin:4px 0}
.inline-form{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-end}
.inline-form label{margin:0 0 4px}
.inline-form div{flex:0 1 auto;width:16rem;max-width:100%}
.inline-form div.wide{width:19rem}
.chart{display:block;width:100%;max-width:720px;height:auto;margin:12px 0 4px}
.chart .grid{stroke:var(--line);stroke-width:1}
.chart .axis{font-size:11px;fill:var(--muted)}
.bar-ok{fill:#1a7f37}.bar-status{fill:#cf222e}.bar-silent{fill:#9a6700}
.legend .key{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-1px;margin:0 4px 0 12px}
.legend .key:first-child{margin-left:0}
.key.ok{background:#1a7f37}.key.status{background:#cf222e}.key.silent{background:#9a6700}
@media (min-width:701px){td.endpoint{min-width:18rem}}
@media (max-width:700px){
  table.stack thead{position:absolute;left:-9999px}
  table.stack tr{display:block;border:1px solid var(--line);border-radius:8px;margin:0 0 12px;padding:4px 12px}
  table.stack td{display:block;border:0;padding:4px 0}
  table.stack td[data-label]::before{content:attr(data-label) ": ";font-weight:600;color:var(--muted)}
  dl.facts{grid-template-columns:1fr}
  dl.facts dd{margin-bottom:8px}
}
`;

export const JS = `
(function () {
  document.querySelectorAll("[data-copy]").forEach(function (b) { b.hidden = false; });
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("[data-copy]");
    if (!b) return;
    var id = b.getAttribute("data-copy"), el = document.getElementById(id), out = document.getElementById(id + "-status");
    var text = el.textContent.trim();
    var ok = function () { out.textContent = "Copied to the clipboard."; };
    var fallback = function () {
      var d = el.closest("details"); if (d) d.open = true;
      var r = document.createRange(); r.selectNodeContents(el);
      var s = getSelection(); s.removeAllRanges(); s.addRange(r);
      out.textContent = document.execCommand("copy") ? "Copied to the clipboard." : "Selected: press Ctrl+C (Cmd+C) to copy.";
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(ok, fallback); else fallback();
  });
  document.addEventListener("submit", function (e) {
    var f = e.target, message = f.getAttribute("data-confirm");
    if (!message) return;
    if (!window.confirm(message)) { e.preventDefault(); return; }
    var c = f.querySelector("input[name=confirmed]"); if (c) c.value = "1";
  });
  var focus = document.querySelector("[data-focus]");
  if (focus) focus.focus();
  var auto = document.querySelector("form[data-autosubmit]");
  if (auto) auto.submit();
})();
`;
