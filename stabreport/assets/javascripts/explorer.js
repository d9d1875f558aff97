// stabreport's explorer: choose a precomputed cell, see its trajectory, its final distribution
// and the readout the build wrote for it. Everything comes from data/explorer.js (written at
// build time); nothing is fetched, so the page works offline, from any static host and from disk.
(function () {
  "use strict";

  var QUANTILES = null; // the probabilities of each cell's `final` quantiles (from the data)

  function data() { return window.STABREPORT_EXPLORER; }

  // The charts' words, in the page's language (written by the build beside the data): the
  // {placeholders} filled in.
  function say(name, values) {
    return data().words[name].replace(/\{(\w+)\}/g, function (all, key) {
      return values && key in values ? String(values[key]) : all;
    });
  }

  function byName(name) {
    var found = null;
    data().experiments.forEach(function (e) { if (e.name === name) found = e; });
    return found || data().experiments[0];
  }

  // --- the URL fragment: experiment=mlp&activation=relu&scale=0.2&width=64&depth=30 ----------
  function readFragment() {
    var out = {};
    (window.location.hash || "").replace(/^#/, "").split("&").forEach(function (part) {
      var pair = part.split("=");
      if (pair.length !== 2 || !pair[0]) return;
      try {  // a malformed part ("%", "%E0") is passed over: the rest of the fragment still counts
        out[decodeURIComponent(pair[0])] = decodeURIComponent(pair[1]);
      } catch (error) {
        if (!(error instanceof URIError)) throw error;
      }
    });
    return out;
  }

  function nearest(control, wanted) {
    // A choice by its name; a number snapped to the nearest value (in log terms, as the grids are).
    var values = control.values, best = 0, bestDistance = Infinity;
    for (var i = 0; i < values.length; i++) {
      if (String(values[i]) === String(wanted)) return i;
    }
    var x = parseFloat(wanted);
    // Not a positive finite number (0, -1, 1e999, "x"): not a place on the grid, so ignored.
    if (!(x > 0) || !isFinite(x) || typeof values[0] !== "number") return null;
    for (var j = 0; j < values.length; j++) {
      var d = Math.abs(Math.log(values[j]) - Math.log(x));
      if (d < bestDistance) { bestDistance = d; best = j; }
    }
    return best;
  }

  function fragmentOf(experiment, choice) {
    var parts = ["experiment=" + encodeURIComponent(experiment.name)];
    experiment.controls.forEach(function (c, i) {
      parts.push(encodeURIComponent(c.key) + "=" + encodeURIComponent(String(c.values[choice[i]])));
    });
    return parts.join("&");
  }

  // --- numbers in words, as the site writes them ---------------------------------------------
  function cellOf(experiment, choice) { return experiment.cells[choice.join(",")]; }

  function theoryPoints(experiment, choice) {
    // The theory's median at every precomputed depth up to the chosen one, from (0, 0).
    var depthIndex = experiment.steps_control, points = [{step: 0, value: 0}];
    var depths = experiment.controls[depthIndex].values;
    for (var i = 0; i <= choice[depthIndex]; i++) {
      var sibling = choice.slice();
      sibling[depthIndex] = i;
      var cell = cellOf(experiment, sibling);
      if (!cell || !cell.theory) return null;
      points.push({step: depths[i], value: cell.theory.median});
    }
    return points;
  }

  function lectureReference(experiment, choice) {
    // The lecture's setting of the same choice (activation, …), nearest in scale.
    var best = null, bestDistance = Infinity;
    var scale = experiment.controls[experiment.scale_control].values[choice[experiment.scale_control]];
    (experiment.lecture || []).forEach(function (ref) {
      var same = Object.keys(ref.match).every(function (key) {
        var index = -1;
        experiment.controls.forEach(function (c, i) { if (c.key === key) index = i; });
        return index < 0 || String(experiment.controls[index].values[choice[index]]) === String(ref.match[key]);
      });
      var d = Math.abs(Math.log(ref.scale) - Math.log(scale));
      if (same && d < bestDistance) { bestDistance = d; best = ref; }
    });
    return best;
  }

  // --- colours from the theme, so that light and dark mode both read -------------------------
  function themeColour(name, fallback) {
    var value = getComputedStyle(document.body).getPropertyValue(name).trim();
    return value || fallback;
  }

  function chartConfig() {
    var fg = themeColour("--md-default-fg-color", "#222");
    var faint = themeColour("--md-default-fg-color--lightest", "#ddd");
    return {
      background: null,
      font: "inherit",
      view: {stroke: null},
      axis: {labelColor: fg, titleColor: fg, domainColor: fg, tickColor: fg, gridColor: faint,
             labelFontSize: 11, titleFontSize: 12, titleFontWeight: "normal"},
      legend: {labelColor: fg, titleColor: fg, orient: "bottom", direction: "vertical", labelFontSize: 11,
               labelLimit: 0},
      title: {color: fg, fontSize: 13, fontWeight: "normal", anchor: "start"}
    };
  }

  var ACCENT = "#0072B2", THEORY = "#D55E00", LECTURE = "#7f7f7f";

  function trajectorySpec(experiment, cell, choice) {
    var rows = [], depth = cell.median.length - 1;
    for (var s = 0; s <= depth; s++) {
      rows.push({step: s, median: cell.median[s], q05: cell.q05[s], q95: cell.q95[s]});
    }
    var measured = say("measured");
    var domain = [measured], range = [ACCENT];
    var x = {field: "step", type: "quantitative", title: experiment.step_label};
    var y = {field: "value", type: "quantitative", title: experiment.ylabel, scale: {zero: false}};
    var layers = [
      {data: {values: rows}, mark: {type: "area", opacity: 0.25, color: ACCENT},
       encoding: {x: x, y: {field: "q05", type: "quantitative", title: experiment.ylabel, scale: {zero: false}},
                  y2: {field: "q95"}}},
      {data: {values: rows.map(function (r) { return {step: r.step, value: r.median, series: measured}; })},
       mark: {type: "line", strokeWidth: 2}, encoding: {x: x, y: y, color: {field: "series"}}}
    ];
    var theory = theoryPoints(experiment, choice);
    if (theory) {
      var named = say("theory_median");
      domain.push(named); range.push(THEORY);
      layers.push({data: {values: theory.map(function (p) { return {step: p.step, value: p.value, series: named}; })},
                   mark: {type: "line", strokeDash: [6, 4], strokeWidth: 1.8, point: true},
                   encoding: {x: x, y: y, color: {field: "series"}}});
    }
    var ref = lectureReference(experiment, choice);
    if (ref) {
      var label = say("lecture", {label: ref.label, key: experiment.controls[experiment.width_control].label,
                                  width: ref.width});
      domain.push(label); range.push(LECTURE);
      var refRows = [];
      for (var t = 0; t < ref.median.length && t <= depth; t++) {
        refRows.push({step: t, value: ref.median[t], series: label});
      }
      layers.push({data: {values: refRows}, mark: {type: "line", opacity: 0.5, strokeWidth: 1.2, strokeDash: [2, 2]},
                   encoding: {x: x, y: y, color: {field: "series"}}});
    }
    layers.forEach(function (layer) {
      if (layer.encoding.color) {
        layer.encoding.color = {field: "series", type: "nominal", title: null,
                                scale: {domain: domain, range: range}};
      }
    });
    return {$schema: "https://vega.github.io/schema/vega-lite/v5.json", width: "container", height: 260,
            title: say("trajectory_title", {step: experiment.step_label}), layer: layers, config: chartConfig(),
            description: say("trajectory_description")};
  }

  function distributionSpec(experiment, cell) {
    var rows = cell.final.map(function (v, i) { return {value: v, p: QUANTILES[i], series: say("measured_quantiles")}; });
    var layers = [{data: {values: rows}, mark: {type: "line", point: true, color: ACCENT, interpolate: "step-after"},
                   encoding: {x: {field: "value", type: "quantitative", title: say("at_the_end", {ylabel: experiment.ylabel}), scale: {zero: false}},
                              y: {field: "p", type: "quantitative", title: say("share_below"), scale: {domain: [0, 1]}},
                              color: {field: "series", type: "nominal", title: null,
                                      scale: {domain: [say("measured_quantiles"), say("theory_quantiles")], range: [ACCENT, THEORY]}}}}];
    if (cell.theory) {
      var law = [{value: cell.theory.q05, p: 0.05}, {value: cell.theory.median, p: 0.5}, {value: cell.theory.q95, p: 0.95}]
        .map(function (r) { r.series = say("theory_quantiles"); return r; });
      layers.push({data: {values: law}, mark: {type: "line", strokeDash: [6, 4], point: {shape: "diamond", size: 70}},
                   encoding: {x: {field: "value", type: "quantitative"}, y: {field: "p", type: "quantitative"},
                              color: {field: "series", type: "nominal"}}});
    }
    return {$schema: "https://vega.github.io/schema/vega-lite/v5.json", width: "container", height: 200,
            title: say("distribution_title", {runs: cell.runs}), layer: layers, config: chartConfig(),
            description: say("distribution_description")};
  }

  function draw(container, spec) {
    var runtime = vegaLite.compile(spec).spec;
    if (container._view) container._view.finalize();
    container.innerHTML = "";
    var view = new vega.View(vega.parse(runtime), {renderer: "svg", container: container, hover: true});
    container._view = view;
    return view.runAsync();
  }

  // --- the page -------------------------------------------------------------------------------
  function Explorer(root) {
    this.root = root;
    this.experimentSelect = root.querySelector("#explorer-experiment");
    this.controls = root.querySelector("#explorer-controls");
    this.readout = root.querySelector("#explorer-readout");
    this.command = root.querySelector("#explorer-command");
    this.bibtex = root.querySelector("#explorer-bibtex");
    this.citeButton = root.querySelector("#explorer-cite");
    this.citePanel = root.querySelector("#explorer-cite-panel");
    this.trajectory = root.querySelector("#explorer-trajectory");
    this.distribution = root.querySelector("#explorer-distribution");
  }

  Explorer.prototype.start = function () {
    var self = this;
    data().experiments.forEach(function (e) {
      var option = document.createElement("option");
      option.value = e.name;
      option.textContent = e.title;
      self.experimentSelect.appendChild(option);
    });
    this.experimentSelect.addEventListener("change", function () {
      self.show(byName(self.experimentSelect.value), null, true);
    });
    this.citeButton.addEventListener("click", function () {
      var open = self.citePanel.hidden;
      self.citePanel.hidden = !open;
      self.citeButton.setAttribute("aria-expanded", String(open));
    });
    window.addEventListener("hashchange", function () { self.fromFragment(); });
    // Re-draw in the other palette when the reader switches light and dark mode.
    new MutationObserver(function () { if (self.experiment) self.render(); })
      .observe(document.body, {attributes: true, attributeFilter: ["data-md-color-scheme"]});
    this.fromFragment();
  };

  Explorer.prototype.fromFragment = function () {
    var wanted = readFragment(), experiment = byName(wanted.experiment);
    var choice = experiment.controls.map(function (c, i) {
      var index = wanted[c.key] !== undefined ? nearest(c, wanted[c.key]) : null;
      return index === null ? experiment.initial[i] : index;
    });
    this.show(experiment, choice, false);
  };

  Explorer.prototype.show = function (experiment, choice, remember) {
    this.experiment = experiment;
    this.choice = choice || experiment.initial.slice();
    this.experimentSelect.value = experiment.name;
    this.buildControls();
    this.update(remember);
  };

  Explorer.prototype.buildControls = function () {
    var self = this, experiment = this.experiment;
    this.controls.innerHTML = "";
    experiment.controls.forEach(function (control, i) {
      var wrap = document.createElement("div");
      wrap.className = "explorer-control";
      var label = document.createElement("label");
      var id = "explorer-" + control.key;
      label.setAttribute("for", id);
      label.textContent = control.label;
      wrap.appendChild(label);
      var input;
      if (control.kind === "log") {
        input = document.createElement("input");
        input.type = "range";
        input.min = "0";
        input.max = String(control.values.length - 1);
        input.step = "1";
        input.value = String(self.choice[i]);
        var shown = document.createElement("output");
        shown.id = id + "-value";
        shown.setAttribute("for", id);
        shown.textContent = String(control.values[self.choice[i]]);
        input.setAttribute("aria-valuetext", String(control.values[self.choice[i]]));
        input.addEventListener("input", function () {
          self.choice[i] = parseInt(input.value, 10);
          shown.textContent = String(control.values[self.choice[i]]);
          input.setAttribute("aria-valuetext", shown.textContent);
          self.update(true);
        });
        wrap.appendChild(input);
        wrap.appendChild(shown);
      } else {
        input = document.createElement("select");
        control.values.forEach(function (value, j) {
          var option = document.createElement("option");
          option.value = String(j);
          option.textContent = control.labels ? control.labels[j] : String(value);
          input.appendChild(option);
        });
        input.value = String(self.choice[i]);
        input.addEventListener("change", function () {
          self.choice[i] = parseInt(input.value, 10);
          self.update(true);
        });
        wrap.appendChild(input);
      }
      input.id = id;
      input.name = control.key;
      self.controls.appendChild(wrap);
    });
  };

  Explorer.prototype.update = function (remember) {
    var fragment = fragmentOf(this.experiment, this.choice);
    if (remember && window.history && window.history.replaceState) {
      window.history.replaceState(null, "", "#" + fragment);
    }
    var cell = cellOf(this.experiment, this.choice);
    this.root.setAttribute("data-cell", this.experiment.name + ":" + this.choice.join(","));
    this.readout.innerHTML = cell.readout;  // written by the build, from the site's own templates
    this.command.textContent = cell.command;
    this.bibtex.textContent = this.bibtexOf(cell, fragment);
    this.render();
  };

  Explorer.prototype.render = function () {
    var cell = cellOf(this.experiment, this.choice), self = this;
    if (!cell.median) {  // every run died: the readout says so, and there is nothing to plot
      [this.trajectory, this.distribution].forEach(function (c) {
        if (c._view) { c._view.finalize(); c._view = null; }
        c.innerHTML = "";
      });
      this.root.setAttribute("data-rendered", this.root.getAttribute("data-cell"));
      return;
    }
    this.rendering = Promise.all([
      draw(this.trajectory, trajectorySpec(this.experiment, cell, this.choice)),
      draw(this.distribution, distributionSpec(this.experiment, cell))
    ]).then(function () { self.root.setAttribute("data-rendered", self.root.getAttribute("data-cell")); });
  };

  Explorer.prototype.bibtexOf = function (cell, fragment) {
    var site = data().site, experiment = this.experiment;
    var words = experiment.controls.map(function (c, i) { return c.key + " " + c.values[this.choice[i]]; }, this);
    var key = "stabreport-explore-" + experiment.name + "-" + this.choice.join("-");
    var url = site.page_url + "#" + fragment;
    return "@misc{" + key + ",\n" +
      "  title = {{" + site.title + "}: " + say("bibtex_title") + ", " + experiment.name + ", " + words.join(", ") + "},\n" +
      "  author = {" + site.authors + "},\n" +
      "  year = {" + site.year + "},\n" +
      "  howpublished = {\\url{" + url + "}},\n" +
      "  note = {stabreport " + site.version + ", seed " + data().seed + ", " +
      say("bibtex_note", {runs: cell.runs, command: cell.command.replace(/([_%&#$])/g, "\\$1")}) + "}\n}";
  };

  function start() {
    var root = document.getElementById("explorer");
    if (!root || root.getAttribute("data-started") || !window.STABREPORT_EXPLORER) return;
    root.setAttribute("data-started", "1");
    QUANTILES = data().quantiles;
    root.hidden = false;
    var fallback = document.getElementById("explorer-fallback");
    if (fallback) fallback.hidden = true;
    new Explorer(root).start();
  }

  // Material's instant navigation swaps pages without reloading: start on each page it shows.
  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(start);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
