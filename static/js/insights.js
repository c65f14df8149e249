// The Insights page's charts (templates/insights/insights.html), drawn with
// Observable Plot (static/vendor/, `make vendor`) from each chart's data as the
// server embeds it with json_script: Chart.as_dict() of insights/charts.py, the
// same dict the API returns. Nothing here is specific to one chart; the kind
// says how to draw it:
//   stacked    vertical bars over x, one segment per series;
//   grouped    vertical bars side by side per x (facets), a tick at `marker`;
//   horizontal one bar per text category (x), segments per series, a tick at `marker`.
//
// Every bar is an SVG <a> to the incidents behind it (Plot's href channel),
// focusable with the keyboard, named "<x> · <series>: <value>". Colour is never
// the only cue: every series also has its own pattern, the legend names them,
// and values are written on or next to the bars wherever they fit; the table
// under each chart has every number.
//
// The Content-Security-Policy allows no inline styles: Plot puts a <style>
// element into each SVG it makes, which is removed before the SVG joins the
// document (static/css/app.css has the same rules, for .insights-plot).
(function () {
  "use strict";

  const SVG = "http://www.w3.org/2000/svg";
  const FONT = 11; // px: .insights-plot's font-size in app.css
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const INK = "#1b1f24";
  // One per series, in order (then again): a colour and a pattern drawn over it in white.
  const FILLS = [
    {colour: "#2b59c3", marks: ""},
    {colour: "#c2401f", marks: "M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4"},
    {colour: "#1e7a46", marks: "dots"},
    {colour: "#6b3fc4", marks: "M0,0 L8,8 M8,0 L0,8"},
    {colour: "#8a5a00", marks: "M0,2 H8 M0,6 H8"},
    {colour: "#475467", marks: "M2,0 V8 M6,0 V8"},
    {colour: "#a01b10", marks: "M0,0 l8,8 M-2,6 l4,4 M6,-2 l4,4"},
    {colour: "#0e7490", marks: "M0,4 H8 M4,0 V8"},
  ];

  // --- Text ---------------------------------------------------------------------------

  function number(value) {
    return Number(value).toLocaleString("en-US", {maximumFractionDigits: 1});
  }

  /** A value as a label says it: "3", "12.5 h", "40%", "2 Nov 2026", "Nov 2026". */
  function valueText(value, unit) {
    if (value === null || value === undefined) return "—";
    if (unit === "hours") return `${number(value)} h`;
    if (unit === "percent") return `${number(value)}%`;
    if (unit === "count") return number(value);
    if (unit === "date") return dateText(value, true);
    return String(value);
  }

  /** "2026-11-02" → "2 Nov 2026" ("2 Nov" short); "2026-11" → "Nov 2026". */
  function dateText(value, long) {
    const match = /^(\d{4})-(\d{2})(?:-(\d{2}))?$/.exec(String(value));
    if (!match) return String(value);
    const [, year, month, day] = match;
    const name = MONTHS[Number(month) - 1];
    if (!day) return `${name} ${year}`;
    return long ? `${Number(day)} ${name} ${year}` : `${Number(day)} ${name}`;
  }

  function textWidth(text) {
    return String(text).length * FONT * 0.62;
  }

  function unique(values) {
    return Array.from(new Set(values));
  }

  // --- The chart's data, ready to draw ------------------------------------------------------

  function prepare(chart, uid) {
    const column = Object.fromEntries(chart.columns.map((c) => [c.key, c]));
    const xUnit = column[chart.x].unit;
    const yColumn = column[chart.y];
    const markerColumn = chart.marker ? column[chart.marker] : null;
    const seriesOf = (row) => (chart.series ? String(row[chart.series]) : yColumn.label);
    const categories = unique(chart.rows.map((row) => row[chart.x]));
    const series = unique(chart.rows.map(seriesOf));
    // Horizontal bars always stack: rows sharing a category (with a series, or not) sit end to end, never on top of each other.
    const stacked = chart.kind === "stacked" || chart.kind === "horizontal";
    const reached = new Map(); // x → the stack's top so far
    const items = chart.rows.map((row) => {
      const value = Number(row[chart.y]) || 0; // null (no value) draws as an empty bar; its label says "—"
      const marker = markerColumn && row[chart.marker] !== null ? Number(row[chart.marker]) : null;
      const low = stacked ? reached.get(row[chart.x]) || 0 : 0;
      if (stacked) reached.set(row[chart.x], low + value);
      let label = `${valueText(row[chart.x], xUnit)} · ${seriesOf(row)}: ${valueText(row[chart.y], yColumn.unit)}`;
      if (markerColumn) label += ` (${markerColumn.label}: ${valueText(row[chart.marker], markerColumn.unit)})`;
      return {
        x: row[chart.x], series: seriesOf(row), value, marker, low, high: low + value, label, link: row.link,
        text: valueText(row[chart.y], yColumn.unit),
      };
    });
    const totals = categories.map((x) => {
      const mine = items.filter((item) => item.x === x);
      const total = mine.reduce((sum, item) => sum + item.value, 0);
      return {x, total, text: valueText(total, yColumn.unit), high: Math.max(0, ...mine.map((i) => i.high))};
    });
    const top = Math.max(0, ...items.map((i) => Math.max(i.high, i.marker || 0)));
    return {
      chart, uid, items, totals, categories, series, stacked, xUnit, yColumn, markerColumn, top,
      fills: series.map((_, k) => `url(#${uid}-fill-${k % FILLS.length})`),
    };
  }

  // --- Patterns and legend (drawn once per chart) -------------------------------------------

  function svgElement(tag, attributes, children = []) {
    const element = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    for (const child of children) element.appendChild(child);
    return element;
  }

  function patterns(uid) {
    const defs = FILLS.map(({colour, marks}, k) => {
      const over = marks === "dots"
        ? [svgElement("circle", {cx: 2, cy: 2, r: 1.2, fill: "white"}), svgElement("circle", {cx: 6, cy: 6, r: 1.2, fill: "white"})]
        : marks ? [svgElement("path", {d: marks, stroke: "white", "stroke-width": 1.3, fill: "none"})] : [];
      return svgElement("pattern", {id: `${uid}-fill-${k}`, width: 8, height: 8, patternUnits: "userSpaceOnUse"},
        [svgElement("rect", {width: 8, height: 8, fill: colour}), ...over]);
    });
    // Not display:none: a pattern in an undisplayed SVG paints nothing.
    return svgElement("svg", {class: "chart-defs", width: 0, height: 0, "aria-hidden": "true", focusable: "false"},
      [svgElement("defs", {}, defs)]);
  }

  function legend(container, model) {
    const list = document.createElement("ul");
    list.className = "chart-legend-items";
    list.setAttribute("aria-label", "Legend");
    model.series.forEach((name, k) => {
      const swatch = svgElement("svg", {width: 14, height: 14, "aria-hidden": "true", focusable: "false"},
        [svgElement("rect", {width: 14, height: 14, fill: model.fills[k], stroke: INK, "stroke-width": 0.5})]);
      list.appendChild(legendItem(swatch, name));
    });
    if (model.markerColumn) {
      const tick = svgElement("svg", {width: 14, height: 14, "aria-hidden": "true", focusable: "false"},
        [svgElement("line", {x1: 0, x2: 14, y1: 7, y2: 7, stroke: INK, "stroke-width": 2})]);
      list.appendChild(legendItem(tick, model.markerColumn.label));
    }
    container.replaceChildren(patterns(model.uid), list);
  }

  function legendItem(swatch, name) {
    const item = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = name;
    item.append(swatch, label);
    return item;
  }

  // --- Drawing ------------------------------------------------------------------------

  /** Every k-th value, so that labels about `each` px wide do not overlap in `room` px. */
  function thinned(values, room, each) {
    const step = Math.max(1, Math.ceil((values.length * each) / Math.max(room, 1)));
    return values.filter((_, index) => index % step === 0);
  }

  function xTickFormat(model) {
    return model.xUnit === "date" ? (value) => dateText(value, false) : (value) => String(value);
  }

  function valueAxis(model, top, room) {
    const integers = model.yColumn.unit === "count";
    const ticks = d3.ticks(0, top, Math.max(2, Math.min(6, Math.floor(room / 40))));
    return {
      domain: [0, top], grid: true, label: model.yColumn.label, labelArrow: "none",
      ticks: integers ? ticks.filter(Number.isInteger) : ticks,
      tickFormat: (value) => number(value),
    };
  }

  // Value labels: dark on white next to a bar, white on dark inside one; each with a halo for the pattern under it.
  const LABEL = {fill: INK, stroke: "white", strokeWidth: 3, fontSize: FONT, ariaHidden: true};
  const LABEL_INSIDE = {...LABEL, fill: "white", stroke: INK, strokeWidth: 2};

  function bars(model, width) {
    const {chart} = model;
    const common = {href: "link", ariaLabel: "label", title: "label"};
    if (chart.kind === "horizontal") return horizontal(model, width, common);
    const height = 260;
    const margin = {marginTop: 24, marginRight: 8, marginBottom: 30, marginLeft: 48};
    const room = width - margin.marginLeft - margin.marginRight;
    const top = model.top * 1.15 || 1;
    const perUnit = (height - margin.marginTop - margin.marginBottom) / top;
    const marks = [Plot.ruleY([0])];
    const scales = {
      y: valueAxis(model, top, height - margin.marginTop - margin.marginBottom),
      color: {domain: model.series, range: model.fills},
    };
    const tickFormat = xTickFormat(model);
    const each = model.xUnit === "date" ? 56 : 72;
    if (chart.kind === "grouped" && chart.series) {
      // One facet per x, one bar per series in it.
      const barWidth = (room / model.categories.length) * 0.85 / model.series.length;
      scales.fx = {domain: model.categories, label: null, padding: 0.15, tickFormat,
                   ticks: thinned(model.categories, room, each)};
      scales.x = {domain: model.series, axis: null, padding: 0.05};
      marks.push(Plot.barY(model.items, {fx: "x", x: "series", y: "value", fill: "series", ...common}));
      if (model.markerColumn) marks.push(markerTicks(model, {fx: "x", x: "series"}));
      marks.push(...valueLabels(model, barWidth, perUnit, {fx: "x", x: "series"}));
    } else {
      const barWidth = (room / model.categories.length) * 0.85;
      scales.x = {domain: model.categories, label: null, padding: 0.15, tickFormat,
                  ticks: thinned(model.categories, room, each)};
      if (model.stacked) {
        marks.push(Plot.barY(model.items, {x: "x", y1: "low", y2: "high", fill: "series", ...common}));
        marks.push(Plot.text(model.items.filter((i) => fits(i.text, barWidth, i.value * perUnit) && model.series.length > 1),
          {x: "x", y: (i) => (i.low + i.high) / 2, text: "text", ...LABEL_INSIDE}));
        marks.push(Plot.text(model.totals.filter((t) => textWidth(t.text) + 2 <= barWidth / 0.85),
          {x: "x", y: "high", text: "text", dy: -8, ...LABEL}));
      } else {
        marks.push(Plot.barY(model.items, {x: "x", y: "value", fill: "series", ...common}));
        if (model.markerColumn) marks.push(markerTicks(model, {x: "x"}));
        marks.push(...valueLabels(model, barWidth, perUnit, {x: "x"}));
      }
    }
    return Plot.plot({width, height, ...margin, ...scales, marks, ...PLOT});
  }

  function fits(text, barWidth, barHeight) {
    return textWidth(text) + 4 <= barWidth && barHeight >= FONT + 3;
  }

  function markerTicks(model, position) {
    return Plot.tickY(model.items.filter((i) => i.marker !== null),
      {...position, y: "marker", stroke: INK, strokeWidth: 2, ariaHidden: true});
  }

  /** Each bar's value: inside it when it is tall enough, above it otherwise. */
  function valueLabels(model, barWidth, perUnit, position) {
    const shown = model.items.filter((i) => textWidth(i.text) + 2 <= barWidth);
    const inside = (i) => i.value * perUnit >= FONT + 6;
    return [
      Plot.text(shown.filter(inside), {...position, text: "text", ...LABEL_INSIDE, y: (i) => i.value / 2}),
      Plot.text(shown.filter((i) => !inside(i)), {...position, text: "text", ...LABEL, y: "value", dy: -8}),
    ];
  }

  function horizontal(model, width, common) {
    const row = 30;
    const longest = Math.max(...model.categories.map((c) => textWidth(c)));
    const marginLeft = Math.round(Math.min(width * 0.4, longest + 12));
    const labelRoom = Math.max(...model.totals.map((t) => textWidth(t.text)), textWidth(" ")) + 10;
    const margin = {marginTop: 8, marginRight: Math.round(labelRoom), marginBottom: 34, marginLeft};
    const room = width - margin.marginLeft - margin.marginRight;
    const top = model.top * 1.02 || 1;
    const perUnit = room / top;
    const height = margin.marginTop + margin.marginBottom + row * model.categories.length;
    const marks = [
      Plot.ruleX([0]),
      // Long names end in "…" (the table and the link's name have them whole). Plot measures text with a
      // narrower font than the browser's sans-serif, hence the margin of error.
      Plot.axisY({tickSize: 0, textOverflow: "ellipsis-end", lineWidth: ((marginLeft - 12) / FONT) * 0.8, fontSize: FONT}),
      Plot.barX(model.items, {y: "x", x1: "low", x2: "high", fill: "series", ...common}),
    ];
    if (model.stacked && model.series.length > 1) {
      marks.push(Plot.text(model.items.filter((i) => fits(i.text, i.value * perUnit, row * 0.8)),
        {y: "x", x: (i) => (i.low + i.high) / 2, text: "text", ...LABEL_INSIDE}));
    }
    if (model.markerColumn) {
      marks.push(Plot.tickX(model.items.filter((i) => i.marker !== null),
        {y: "x", x: "marker", stroke: INK, strokeWidth: 2, ariaHidden: true}));
    }
    // The bar's total (its value, without series) next to its end, past the marker.
    const ends = new Map(model.items.map((i) => [i.x, Math.max(i.high, i.marker || 0)]));
    marks.push(Plot.text(model.totals, {y: "x", x: (t) => ends.get(t.x), text: "text", dx: 4, textAnchor: "start", ...LABEL}));
    const axis = valueAxis(model, top, room);
    return Plot.plot({
      width, height, ...margin, marks, ...PLOT,
      x: {...axis, ticks: axis.ticks.length > room / 50 ? thinned(axis.ticks, room, 50) : axis.ticks},
      y: {domain: model.categories, label: null, padding: 0.2},
      color: {domain: model.series, range: model.fills},
    });
  }

  const PLOT = {className: "insights-plot"};

  /** The chart at this width, ready for the document: styles out, each bar's <a> named. */
  function render(model, width) {
    const drawn = bars(model, width);
    drawn.querySelectorAll("style").forEach((style) => style.remove());
    const svg = drawn.tagName.toLowerCase() === "svg" ? drawn : drawn.querySelector("svg");
    svg.setAttribute("aria-label", model.chart.title);
    svg.querySelectorAll("a").forEach((link) => {
      const bar = link.firstElementChild;
      // Plot names the shape; the link is what is focused and announced.
      link.setAttribute("aria-label", bar.getAttribute("aria-label"));
      bar.removeAttribute("aria-label");
      link.setAttribute("href", link.getAttributeNS("http://www.w3.org/1999/xlink", "href"));
      link.setAttribute("data-testid", "chart-bar");
    });
    // Plot names each mark's group ("rule", "bar"); on a plain <g> a name is not allowed
    // (axe: aria-prohibited-attr) and says nothing the chart's title and bars do not.
    svg.querySelectorAll("g[aria-label]:not([role])").forEach((group) => group.removeAttribute("aria-label"));
    return drawn;
  }

  function setUp(figure) {
    const container = figure.querySelector("[data-chart]");
    const chart = JSON.parse(document.getElementById(container.dataset.chart).textContent);
    const model = prepare(chart, figure.id);
    legend(figure.querySelector("[data-chart-legend]"), model);
    let drawnAt = 0;
    function draw() {
      const width = Math.floor(container.clientWidth);
      if (!width || width === drawnAt) return;
      drawnAt = width;
      container.replaceChildren(render(model, width));
    }
    draw();
    // Sized to its container: drawn again when the container's width changes (a turned phone, a resized window).
    new ResizeObserver(() => requestAnimationFrame(draw)).observe(container);
  }

  // The filters: choosing a preset clears the custom dates (they would win over it), typing a date picks "Custom".
  function filtersForm() {
    const range = document.getElementById("id_range");
    const dates = [document.getElementById("id_from"), document.getElementById("id_to")];
    if (!range || dates.includes(null)) return;
    range.addEventListener("change", () => {
      if (range.value !== "custom") dates.forEach((input) => { input.value = ""; });
    });
    dates.forEach((input) => input.addEventListener("input", () => {
      if (dates.some((d) => d.value)) range.value = "custom";
    }));
  }

  filtersForm();
  document.querySelectorAll("figure.chart").forEach((figure) => {
    if (figure.querySelector("[data-chart]")) setUp(figure);
  });
})();
