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

  var NBSP = "\u00a0";  // around the ×: a number is one word, never broken over two lines
  var SUPERSCRIPT = {"-": "⁻", "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵",
                     "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹"};

  // A number as the site writes it (stabreport.render.explorer.grid_label, whose rules these
  // mirror): an integer as it is, another to 3 significant figures (0.0354, 1.13), in × 10ⁿ
  // notation below 0.001 or from 10⁴ on; a choice by its name.
  function readable(value) {
    if (typeof value !== "number") return String(value);
    if (!isFinite(value) || value === 0) return value === 0 ? "0" : String(value);
    var size = Math.abs(Number(value.toPrecision(3))), sign = value < 0 ? "−" : "";
    if (Number.isInteger(value)) return sign + String(Math.abs(value));  // JSON's 4.0 is 4
    if (size < 1e-3 || size >= 1e4) {
      var exponent = Math.floor(Math.log10(size)), mantissa = Math.abs(value) / Math.pow(10, exponent);
      if (Number(mantissa.toFixed(2)) >= 10) { mantissa /= 10; exponent += 1; }
      var power = String(exponent).replace(/[-0-9]/g, function (c) { return SUPERSCRIPT[c]; });
      return sign + mantissa.toFixed(2) + NBSP + "×" + NBSP + "10" + power;
    }
    var text = size.toFixed(Math.max(0, 2 - Math.floor(Math.log10(size))));
    if (text.indexOf(".") >= 0) text = text.replace(/0+$/, "").replace(/\.$/, "");
    return sign + text;
  }

  // The i-th value of a control as the page shows it: the build's label (the exact value is what
  // the page looks cells up by, keeps in the address and prints in the command).
  function valueLabel(control, i) {
    return control.labels ? control.labels[i] : readable(control.values[i]);
  }

  function theoryPoints(experiment, choice) {
    // The theory's median at every precomputed depth up to the chosen one, from (0, 0).
    var depthIndex = experiment.steps_control, points = [{step: 0, value: 0}];
    var depths = experiment.controls[depthIndex].values;
    for (var i = 0; i <= choice[depthIndex]; i++) {
      var sibling = choice.slice();
      sibling[depthIndex] = i;
      var cell = cellOf(experiment, sibling);
      if (!cell || !cell.theory || !finite(cell.theory.median)) return null;
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
      // Labels that would touch are left out (every other one first), the end ones kept inside
      // the chart; the number of ticks follows the chart's size (see axisOf).
      axis: {labelColor: fg, titleColor: fg, domainColor: fg, tickColor: fg, gridColor: faint,
             labelFontSize: 11, titleFontSize: 12, titleFontWeight: "normal",
             labelOverlap: "parity", labelSeparation: 6, labelFlush: true, labelBound: true},
      legend: {labelColor: fg, titleColor: fg, orient: "bottom", direction: "vertical", labelFontSize: 11,
               labelLimit: 0},
      title: {color: fg, fontSize: 13, fontWeight: "normal", anchor: "start"}
    };
  }

  var ACCENT = "#0072B2", THEORY = "#D55E00", LECTURE = "#7f7f7f";

  // An axis with about one tick per `spacing` pixels of the chart's width (or height), however
  // wide the page shows it: a phone gets fewer ticks, not labels on top of each other.
  function axisOf(direction, spacing, extra) {
    var axis = {tickCount: {expr: "max(2, floor(" + direction + " / " + spacing + "))"}};
    Object.keys(extra || {}).forEach(function (key) { axis[key] = extra[key]; });
    return axis;
  }

  // Every layer's colour by its series, from one scale of only the series the chart shows (so
  // the legend names nothing the chart does not draw).
  function colourLayers(layers, domain, range) {
    layers.forEach(function (layer) {
      if (layer.encoding.color) {
        layer.encoding.color = {field: "series", type: "nominal", title: null,
                                scale: {domain: domain, range: range}};
      }
    });
  }

  function finite(value) { return typeof value === "number" && isFinite(value); }

  function trajectorySpec(experiment, cell, choice) {
    var rows = [], depth = cell.median.length - 1;
    for (var s = 0; s <= depth; s++) {
      rows.push({step: s, median: cell.median[s], q05: cell.q05[s], q95: cell.q95[s]});
    }
    var measured = say("measured");
    var domain = [measured], range = [ACCENT];
    var x = {field: "step", type: "quantitative", title: experiment.step_label,
             axis: axisOf("width", 60, {format: "d", tickMinStep: 1})};
    var y = {field: "value", type: "quantitative", title: experiment.ylabel, scale: {zero: false},
             axis: axisOf("height", 40)};
    var layers = [
      {data: {values: rows}, mark: {type: "area", opacity: 0.25, color: ACCENT},
       encoding: {x: x, y: {field: "q05", type: "quantitative", title: experiment.ylabel, scale: {zero: false},
                            axis: y.axis},
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
    colourLayers(layers, domain, range);
    return {$schema: "https://vega.github.io/schema/vega-lite/v5.json", width: "container", height: 260,
            title: say("trajectory_title", {step: experiment.step_label}), layer: layers, config: chartConfig(),
            description: say("trajectory_description")};
  }

  // The theory's law of the final value, as the build sampled it (its CDF at evenly spaced
  // points: a smooth curve), its 5 %, median and 95 % marked on it; where the build has only
  // those three quantiles, they are marked alone (no line drawn through them).
  function theoryLayers(theory, x, y) {
    if (!theory || !finite(theory.median) || !finite(theory.q05) || !finite(theory.q95)) return null;
    var law = theory.law, named, layers = [];
    var marks = [{value: theory.q05, p: 0.05}, {value: theory.median, p: 0.5}, {value: theory.q95, p: 0.95}];
    if (law && law.cdf && law.cdf.length > 1) {
      named = say(theory.exact ? "theory_exact_law" : "theory_law");
      var step = (law.to - law.from) / (law.cdf.length - 1);
      var curve = law.cdf.map(function (p, i) { return {value: law.from + i * step, p: p, series: named}; });
      layers.push({data: {values: curve}, mark: {type: "line", strokeDash: [6, 4], strokeWidth: 1.8,
                                                 interpolate: "monotone"},
                   encoding: {x: x, y: y, color: {field: "series"}}});
    } else {
      named = say("theory_quantiles");
      layers.push({data: {values: marks.map(function (m) { return {value: m.value, p: m.p, series: named}; })},
                   mark: {type: "rule", strokeDash: [6, 4], strokeWidth: 1.4},
                   encoding: {x: x, y: {datum: 0}, y2: {field: "p"}, color: {field: "series"}}});
    }
    layers.push({data: {values: marks.map(function (m) { return {value: m.value, p: m.p, series: named}; })},
                 mark: {type: "point", shape: "diamond", size: 60, filled: true},
                 encoding: {x: x, y: y, color: {field: "series"}}});
    return {name: named, layers: layers};
  }

  function distributionSpec(experiment, cell) {
    var measured = say("measured_quantiles");
    var rows = cell.final.map(function (v, i) { return {value: v, p: QUANTILES[i], series: measured}; });
    var x = {field: "value", type: "quantitative", title: say("at_the_end", {ylabel: experiment.ylabel}),
             scale: {zero: false}, axis: axisOf("width", 70)};
    var y = {field: "p", type: "quantitative", title: say("share_below"), scale: {domain: [0, 1]},
             axis: axisOf("height", 40)};
    var domain = [measured], range = [ACCENT];
    var layers = [{data: {values: rows}, mark: {type: "line", point: true, color: ACCENT, interpolate: "step-after"},
                   encoding: {x: x, y: y, color: {field: "series"}}}];
    var theory = theoryLayers(cell.theory, x, y);
    if (theory) {
      domain.push(theory.name); range.push(THEORY);
      layers = layers.concat(theory.layers);
    }
    colourLayers(layers, domain, range);
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
        shown.textContent = valueLabel(control, self.choice[i]);
        input.setAttribute("aria-valuetext", shown.textContent);
        input.addEventListener("input", function () {
          self.choice[i] = parseInt(input.value, 10);
          shown.textContent = valueLabel(control, self.choice[i]);
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
          option.textContent = valueLabel(control, j);
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
    this.showCommand(cell.command);
    this.bibtex.textContent = this.bibtexOf(cell, fragment);
    this.render();
  };

  // The command, each word of it kept whole (a browser would break "--per-step" after a hyphen):
  // a line ends only at a space between words. Copied, it is the command as it is.
  Explorer.prototype.showCommand = function (command) {
    var target = this.command;
    target.textContent = "";
    command.split(" ").forEach(function (word, i) {
      if (i) target.appendChild(document.createTextNode(" "));
      var span = document.createElement("span");
      span.style.whiteSpace = "nowrap";
      span.textContent = word;
      target.appendChild(span);
    });
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
    var words = experiment.controls.map(function (c, i) { return c.key + " " + valueLabel(c, this.choice[i]); }, this);
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
