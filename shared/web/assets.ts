// The pages' one style sheet and one script, served same-origin (the Content-Security-Policy
// forbids inline code and anything from elsewhere; self-hosted instances are often offline).
// The script does three things: the package search as you type, the copy buttons, and following
// a build's progress until the page can show the image. Every piece of text it puts in the page
// goes in as text (textContent), never as markup: descriptions and build logs are untrusted.

export const styleSheet = `*{box-sizing:border-box}
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1b1f24;background:#fff}
header{background:#24292f;padding:.5rem 1rem}header a{color:#fff;font-weight:600;text-decoration:none}
main{max-width:62rem;margin:0 auto;padding:0 1rem 3rem}
h1{font-size:1.6rem;margin:1.2rem 0 .6rem;overflow-wrap:anywhere}h1 .tag{color:#57606a}
h2{font-size:1.25rem;margin-top:1.8rem;border-bottom:1px solid #d0d7de}h3{font-size:1rem;margin:.9rem 0 .3rem}
a{color:#0550ae}code,pre{font:.88rem/1.4 ui-monospace,monospace;background:#f3f4f6;border-radius:4px}
code{padding:.05rem .25rem;overflow-wrap:anywhere}pre{padding:.5rem .6rem;margin:0;overflow-x:auto}pre code{padding:0;background:none}
.cmd{display:flex;gap:.4rem;align-items:stretch;margin:.3rem 0}.cmd pre{flex:1;min-width:0;white-space:pre-wrap;overflow-wrap:anywhere}
button{font:inherit;font-size:.85rem;border:1px solid #d0d7de;background:#f6f8fa;border-radius:6px;padding:.2rem .6rem;cursor:pointer}
.note{color:#57606a;font-size:.9rem}.facts{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.5rem .7rem}
.search{display:flex;gap:.5rem;align-items:center}.search input{flex:1;min-width:0;font:inherit;padding:.45rem .6rem;border:1px solid #8c959f;border-radius:6px}
#results{padding:0;list-style:none}#results li{border:1px solid #d0d7de;border-radius:6px;padding:.5rem .7rem;margin:.5rem 0}
#results .attr{font-weight:600}#results .version{color:#57606a;margin-left:.4rem}#results p{margin:.2rem 0}
.flag{font-size:.75rem;border:1px solid #cf222e;color:#cf222e;border-radius:4px;padding:0 .3rem;margin-left:.3rem}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{border-bottom:1px solid #d0d7de;padding:.3rem .4rem;text-align:left;vertical-align:top}
.digest{word-break:break-all}td.size{white-space:nowrap}ul.paths{margin:.3rem 0;padding-left:1.1rem}
.config dt{font-weight:600}.config dd{margin:0 0 .4rem 1rem;overflow-wrap:anywhere}
.faq dt{font-weight:600;margin-top:.6rem}.faq dd{margin-left:0}
.phases{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.3rem}
.phases li{font-size:.8rem;border:1px solid #d0d7de;border-radius:999px;padding:.1rem .55rem;color:#57606a}
.phases li.past{background:#dafbe1;border-color:#4ac26b;color:#1a7f37}.phases li.now{background:#ddf4ff;border-color:#54aeff;color:#0550ae;font-weight:600}
.phase{font-size:1.15rem;font-weight:600}.log{max-height:16rem;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere}
.error{border-left:4px solid #cf222e;padding-left:.7rem}.error pre,.error-text{white-space:pre-wrap;overflow-wrap:anywhere}
ul.images{padding-left:1.1rem}ul.images a{overflow-wrap:anywhere}
@media (max-width:40rem){body{font-size:15px}h1{font-size:1.3rem}th,td{padding:.25rem}}
`;

export const clientScript = `"use strict";
(() => {
  const byId = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const errorText = (body) =>
    (body && body.errors && body.errors[0] && body.errors[0].message) || "The server did not answer.";
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const mb = (bytes) => bytes < 1e6 ? Math.round(bytes / 1e3) + " kB" : (bytes / 1e6).toFixed(1) + " MB";

  // Copy buttons: the command is the button's data-copy.
  const copy = (text) => {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    const area = el("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  };
  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element && event.target.closest("button[data-copy]");
    if (!button) return;
    const label = button.textContent;
    copy(button.dataset.copy).then(
      () => (button.textContent = "Copied"),
      () => (button.textContent = "Select it"),
    ).finally(() => setTimeout(() => (button.textContent = label), 1500));
  });
  const commandBlock = (command) => {
    const block = el("div", "cmd");
    const pre = el("pre");
    pre.append(el("code", "", command));
    const button = el("button", "", "Copy");
    button.type = "button";
    button.dataset.copy = command;
    block.append(pre, button);
    return block;
  };

  // Package search as you type (debounced; a newer query cancels the older one).
  const input = byId("q");
  if (input) {
    const status = byId("search-status");
    const results = byId("results");
    let timer = 0;
    let controller = null;
    let last = null;
    const result = (pkg) => {
      const item = el("li");
      const head = el("div");
      const link = el("a", "attr", pkg.attr);
      link.href = "/" + pkg.image;
      head.append(link);
      if (pkg.version) head.append(el("span", "version", pkg.version));
      for (const flag of ["unfree", "broken", "insecure"]) if (pkg[flag]) head.append(el("span", "flag", flag));
      item.append(head);
      if (pkg.description) item.append(el("p", "", pkg.description));
      item.append(commandBlock("docker pull " + input.dataset.pullHost + "/" + pkg.image));
      return item;
    };
    const search = async () => {
      const query = input.value.trim();
      if (query === last) return;
      last = query;
      if (controller) controller.abort();
      controller = new AbortController();
      if (!query) {
        results.replaceChildren();
        status.textContent = "";
        return;
      }
      status.textContent = "Searching…";
      try {
        const response = await fetch("/api/packages?limit=20&q=" + encodeURIComponent(query), {
          signal: controller.signal,
          headers: { accept: "application/json" },
        });
        const body = await response.json();
        if (!response.ok) {
          results.replaceChildren();
          status.textContent = errorText(body);
          return;
        }
        results.replaceChildren(...body.results.map(result));
        const count = body.results.length;
        let text = count ? count + (count === 1 ? " package" : " packages") : "No package matches “" + query + "”.";
        if (body.index === "building") text += " The package index is being built; try again in a while.";
        if (body.index === "failed") text += " The package index could not be built.";
        status.textContent = text;
      } catch (error) {
        if (error.name !== "AbortError") status.textContent = "The search did not answer; try again.";
      }
    };
    input.form.addEventListener("submit", (event) => {
      event.preventDefault();
      last = null;
      search();
    });
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(search, 200);
    });
    const initial = new URLSearchParams(location.search).get("q");
    if (initial) {
      input.value = initial;
      search();
    }
  }

  // Package descriptions on an image page, from the package index (when it has them).
  // Asked as searches (which answer 200 whether or not the index knows the package), one at a time.
  const describe = async () => {
    for (const cell of document.querySelectorAll("td[data-describe]")) {
      const attr = cell.dataset.describe;
      try {
        const response = await fetch("/api/packages?limit=10&q=" + encodeURIComponent(attr), {
          headers: { accept: "application/json" },
        });
        if (!response.ok) return;
        const body = await response.json();
        const found = body.results.find((pkg) => pkg.attr === attr);
        if (found) cell.textContent = found.description;
      } catch {
        return;
      }
    }
  };

  // A build's progress, long-polled until it is done; then the page becomes the image's page.
  const labels = {
    queued: "Waiting for a build slot", resolving: "Resolving the tag", evaluating: "Evaluating the packages",
    realising: "Building and fetching with Nix", grouping: "Grouping the closure into layers",
    packing: "Packing and storing layers", uploading: "Storing the config and manifests", publishing: "Recording the image",
    done: "Done", failed: "Failed",
  };
  const seen = new Set();
  const showProgress = (progress) => {
    const section = byId("build");
    seen.add(progress.phase);
    section.dataset.seen = [...seen].join(",");
    const phase = byId("phase");
    phase.dataset.phase = progress.phase;
    phase.textContent = labels[progress.phase] || progress.phase;
    const history = progress.history;
    byId("phases").replaceChildren(...history.map((entry, i) => {
      const next = history[i + 1];
      const last = i === history.length - 1;
      const took = next ? " " + ((next.at - entry.at) / 1000).toFixed(1) + " s" : "";
      return el("li", last && entry.phase !== "done" ? "now" : "past", entry.phase + took);
    }));
    const details = [];
    if (progress.platform) details.push(progress.platform);
    if (progress.phase === "queued" && progress.queuePosition) details.push("position " + progress.queuePosition + " in the queue");
    const drv = progress.derivations;
    if (drv && drv.total) details.push("derivation " + drv.started + " of " + drv.total + (drv.building.length ? ": " + drv.building.join(", ") : ""));
    const dl = progress.downloads;
    if (dl && dl.total) details.push("download " + dl.started + " of " + dl.total);
    const layers = progress.layers;
    if (layers && layers.total) details.push("layer " + layers.done + " of " + layers.total + ", " + mb(layers.bytes));
    details.push(Math.round((Date.now() - progress.startedAt) / 1000) + " s");
    byId("detail").textContent = details.join(" · ");
    const log = byId("log");
    log.hidden = progress.log.length === 0;
    log.textContent = progress.log.join("\\n");
  };
  const showFailure = (message) => {
    const section = byId("build");
    seen.add("failed");
    section.dataset.seen = [...seen].join(",");
    byId("phase").dataset.phase = "failed";
    byId("phase").textContent = labels.failed;
    const box = el("div", "error");
    box.setAttribute("role", "alert");
    box.append(el("p", "", "The build failed, and a pull gets the same answer:"));
    const pre = el("pre", "", message);
    pre.id = "error";
    box.append(pre);
    section.append(box);
  };
  const showImage = async () => {
    const response = await fetch(location.pathname, { headers: { accept: "text/html" } });
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const main = page.querySelector("main");
    if (!main || page.body.dataset.follow) return false;
    document.querySelector("main").replaceWith(document.adoptNode(main));
    document.title = page.title;
    document.body.dataset.follow = "0";
    describe();
    return true;
  };
  const follow = async (ref) => {
    let after = 0;
    let backoff = 0;
    for (;;) {
      let state;
      try {
        const response = await fetch("/api/builds/" + ref + "?after=" + after, { headers: { accept: "application/json" } });
        state = await response.json();
        if (!response.ok) {
          showFailure(errorText(state));
          return;
        }
        backoff = 0;
      } catch {
        backoff = Math.min(backoff * 2 || 1000, 15000);
        await sleep(backoff);
        continue;
      }
      if (state.progress) {
        if (state.progress.seq === after) await sleep(1000);
        after = state.progress.seq;
        showProgress(state.progress);
      }
      if (state.state === "done") {
        seen.add("done");
        byId("build").dataset.seen = [...seen].join(",");
        if (await showImage()) return;
        await sleep(1000);
      } else if (state.state === "failed") {
        showFailure(state.error ? state.error.message : "The build failed.");
        return;
      } else if (state.state === "unbuilt") {
        byId("detail").textContent = "No build is running for this image any more.";
        return;
      } else if (!state.progress) {
        await sleep(1000);
      }
    }
  };
  const initial = byId("phase");
  if (initial) seen.add(initial.dataset.phase);
  const ref = document.body.dataset.ref;
  if (ref && document.body.dataset.follow === "1") follow(ref);
  else if (ref) describe();
})();
`;
