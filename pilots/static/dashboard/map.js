/* The overview's map of Sichuan: the 21 prefectures coloured by completion or by on-time reporting rate (the
 * reader chooses), each pilot a point at its county; a click opens the prefecture's or the pilot's page.
 * The table beside it has the same figures and links: it is the map's keyboard and screen-reader alternative.
 *
 * Boundaries and county centres come from window.SICHUAN_MAP / window.SICHUAN_COUNTIES (vendor/sichuan/,
 * built from npm packages by pilots/dashboard/build_sichuan_map.js). Figures come from the JSON API.
 * For internal use only: a map published to the public in China needs the standard map and its 审图号.
 */
(function () {
  "use strict";

  var container = document.getElementById("sichuan-map");
  if (!container) return;
  var body = document.body;
  var LANG = body.dataset.lang === "en" ? "en" : "zh";
  var REAL_ONLY = body.dataset.realOnly === "true";
  var T = {
    zh: {prefecture: "市(州)", completion: "完成率(%)", reporting: "按时报送率(%)", pilots: "试点", demo: "演示 / demo",
         none: "暂无数据", noMap: "地图数据未安装,请使用下表。", period: function (p) { return p + " 季度"; },
         legend: {completion: "完成率(%)", reporting: "按时报送率(%)"}},
    en: {prefecture: "Prefecture", completion: "Completion (%)", reporting: "On-time reporting (%)", pilots: "Pilots",
         demo: "演示 / demo", none: "No data yet", noMap: "The map data is not installed; use the table below.",
         period: function (p) { return "quarter " + p; },
         legend: {completion: "Completion (%)", reporting: "On-time reporting (%)"}}
  }[LANG];
  var DEMO_TITLE = "演示数据,非正式认定 / Demo data, not an official designation";

  function withParams(url, params) {
    var query = Object.keys(params).filter(function (k) { return params[k] !== undefined; })
      .map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]); }).join("&");
    return query ? url + (url.indexOf("?") < 0 ? "?" : "&") + query : url;
  }
  var snap = REAL_ONLY ? {real_only: "true"} : {};

  function list(url, params) {
    var rows = [];
    function from(page) {
      return fetch(withParams(url, Object.assign({}, params, {page: page, page_size: 500})),
        {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (response) {
          if (!response.ok) throw new Error(url + ": " + response.status);
          return response.json();
        })
        .then(function (data) { rows = rows.concat(data.results); return data.next ? from(page + 1) : rows; });
    }
    return from(1);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key]; else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }
  function badge() { return el("span", {className: "badge demo", title: DEMO_TITLE, text: T.demo}); }
  function name(obj) { return (LANG === "en" ? obj.name_en : obj.name_zh) || obj.name_zh || obj.code; }
  function fmt(n) { return n === null || n === undefined ? "—" : Number(n).toFixed(1); }
  function prefecturePage(code) { return withParams("/dashboard/prefectures/" + code + "/", snap); }
  function pilotPage(id) { return withParams("/dashboard/pilots/" + id + "/", snap); }

  // The quarter shown for reporting: the newest with reports expected whose deadline has passed on the figures' date.
  function reportingByPrefecture(rates) {
    var done = rates.filter(function (r) { return r.scope === "province" && r.expected > 0 && r.deadline < r.as_of; });
    var periods = (done.length ? done : rates).map(function (r) { return r.period; }).sort();
    var period = periods[periods.length - 1];
    var byCode = {};
    rates.forEach(function (r) {
      if (r.period === period && r.scope === "prefecture" && r.prefecture) {
        byCode[r.prefecture.code] = r.on_time_share === null ? null : Number(r.on_time_share) * 100;
      }
    });
    return {period: period, byCode: byCode};
  }

  Promise.all([
    list("/api/v1/completion/prefectures/", snap),
    list("/api/v1/completion/reporting-rates/", snap),
    list("/api/v1/pilots/", REAL_ONLY ? {demo: "false"} : {})
  ]).then(function (results) {
    var completions = results[0], reporting = reportingByPrefecture(results[1]), pilots = results[2];
    var rows = completions.map(function (r) {
      return {code: r.prefecture.code, name: name(r.prefecture), completion: r.completion === null ? null : Number(r.completion),
              reporting: reporting.byCode[r.prefecture.code], includesDemo: r.includes_demo,
              pilots: pilots.filter(function (p) { return p.prefecture.code === r.prefecture.code; })};
    });
    drawTable(rows, reporting.period);
    drawMap(rows, pilots);
    container.dataset.loaded = "true";
  }).catch(function (error) {
    container.dataset.loaded = "error";
    container.textContent = error.message;
  });

  function drawTable(rows, period) {
    var wrap = document.getElementById("sichuan-map-table");
    wrap.textContent = "";
    if (!rows.length) { wrap.appendChild(el("p", {className: "empty", text: T.none})); return; }
    var head = el("tr", {}, [T.prefecture, T.completion, T.reporting + (period ? " · " + T.period(period) : ""), T.pilots]
      .map(function (h) { return el("th", {scope: "col", text: h}); }));
    var tbody = el("tbody", {}, rows.map(function (r) {
      var pilotLinks = [];
      r.pilots.forEach(function (p, i) {
        if (i) pilotLinks.push("、");
        pilotLinks.push(el("a", {href: pilotPage(p.id), text: name(p)}));
        if (p.is_demo) { pilotLinks.push(" "); pilotLinks.push(badge()); }
      });
      var first = [el("a", {href: prefecturePage(r.code), text: r.name})];
      if (r.includesDemo) { first.push(" "); first.push(badge()); }
      return el("tr", {"data-code": r.code}, [el("th", {scope: "row"}, first), el("td", {text: fmt(r.completion)}),
        el("td", {text: fmt(r.reporting)}), el("td", {}, pilotLinks)]);
    }));
    wrap.appendChild(el("table", {}, [el("thead", {}, [head]), tbody]));
  }

  function drawMap(rows, pilots) {
    if (!window.echarts || !window.SICHUAN_MAP) {
      container.removeAttribute("role");
      container.appendChild(el("p", {className: "note", text: T.noMap}));
      return;
    }
    window.echarts.registerMap("sichuan", window.SICHUAN_MAP);
    var mapName = {};  // GB/T 2260 code → the feature's name in the map data
    var centre = {};
    window.SICHUAN_MAP.features.forEach(function (f) { mapName[f.id] = f.properties.name; centre[f.id] = f.properties.cp; });
    var byMapName = {};
    rows.forEach(function (r) { byMapName[mapName[r.code]] = r; });
    var counties = window.SICHUAN_COUNTIES || {};
    var points = pilots.map(function (p) {
      // A pilot whose county the map data lacks (an invented demo code) sits at its prefecture's centre.
      var at = (counties[p.code] || {}).cp || centre[p.prefecture.code];
      return at ? {name: name(p) + (p.is_demo ? " [" + T.demo + "]" : ""), value: at.concat([p.id]), pilot: p.id,
                   symbol: p.is_demo ? "emptyCircle" : "circle"} : null;
    }).filter(Boolean);
    var chart = window.echarts.init(container, null, {renderer: "canvas"});
    function option(metric) {
      return {
        tooltip: {trigger: "item", formatter: function (params) {
          if (params.seriesType === "scatter") return params.name;
          var row = byMapName[params.name];
          return row ? row.name + "<br>" + T.completion + ": " + fmt(row.completion) + "<br>" + T.reporting + ": " + fmt(row.reporting)
            : params.name;
        }},
        visualMap: {min: 0, max: 100, seriesIndex: 0, calculable: false, left: 8, bottom: 8, text: ["100", "0"],
                    inRange: {color: ["#fde0c5", "#facba6", "#f59e72", "#e76f51", "#b63d2c"]},
                    textStyle: {color: "#222"}, formatter: function (v) { return v.toFixed(0); }},
        geo: {map: "sichuan", roam: false, aspectScale: 0.85, label: {show: false},
              itemStyle: {borderColor: "#555", borderWidth: 0.6}, emphasis: {label: {show: true}}},
        title: {text: T.legend[metric], left: 8, top: 4, textStyle: {fontSize: 13, fontWeight: "normal"}},
        series: [
          {type: "map", geoIndex: 0, data: rows.map(function (r) {
            return {name: mapName[r.code], value: metric === "completion" ? r.completion : r.reporting, code: r.code};
          })},
          {type: "scatter", coordinateSystem: "geo", symbolSize: 9, z: 3, data: points,
           itemStyle: {color: "#1f3b73", borderColor: "#fff", borderWidth: 1}}
        ]
      };
    }
    function metric() {
      var checked = document.querySelector("input[name=map-metric]:checked");
      return checked ? checked.value : "completion";
    }
    chart.setOption(option(metric()));
    chart.on("click", function (params) {
      if (params.seriesType === "scatter" && params.data) window.location.href = pilotPage(params.data.pilot);
      else if (params.componentType === "geo" || params.seriesType === "map") {
        var row = byMapName[params.name];
        if (row) window.location.href = prefecturePage(row.code);
      }
    });
    Array.prototype.forEach.call(document.querySelectorAll("input[name=map-metric]"), function (input) {
      input.addEventListener("change", function () {
        chart.setOption(option(metric()), {notMerge: true});
        container.setAttribute("aria-label", container.dataset.label + " · " + T.legend[metric()]);
      });
    });
    window.addEventListener("resize", function () { chart.resize(); });
    if (rows.some(function (r) { return r.includesDemo; }) || pilots.some(function (p) { return p.is_demo; })) {
      var layout = container.parentNode;  // the note goes above the map and its table, not into their grid
      layout.parentNode.insertBefore(el("p", {className: "note demo-note"}, [badge(), " " + DEMO_TITLE]), layout);
    }
  }
})();
