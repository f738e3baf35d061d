/* The dashboard's only script (no inline scripts, so that a strict Content-Security-Policy works).
 *
 * Every figure is read from the JSON API the integrators use (/api/v1/completion/…, /api/v1/pilots/…,
 * /api/v1/reports/…), with the session cookie; nothing is computed here beyond sorting and layout.
 * Every chart has a <table> with the same numbers, and is keyboard reachable (tabindex, aria-label).
 */
(function () {
  "use strict";

  var body = document.body;
  var LANG = body.dataset.lang === "en" ? "en" : "zh";
  var REAL_ONLY = body.dataset.realOnly === "true";
  var CAN_REVIEW = body.dataset.canReview === "true";
  // The reminder kinds' labels, from the model's choices in the page's language (pilots.dashboard.views).
  var KINDS = JSON.parse(body.dataset.reminderKinds || "{}");

  // Rows per page of the lists that can be long; each says how many it shows of the API's count.
  var PAGE_SIZES = {behind: 25, overdue: 50, reports: 50, milestones: 50};

  var T = {
    zh: {
      completion: "完成率(%)", planned: "计划(%)", variance: "偏差(百分点)", status: "进度状态",
      designated: "已认定试点", accepted: "已验收试点", projected: "预计按期完成", asOf: "数据截至",
      pilots: "试点数", noReport: "无已审核报告", prefecture: "市(州)", task: "重点任务", department: "责任部门",
      pilot: "试点", subtask: "子任务", approved: "已审核(%)", pending: "待审核(%)", date: "日期",
      period: "季度", revision: "版本", state: "审核状态", percent: "进度(%)", actions: "操作",
      approve: "通过", giveBack: "退回", returnComment: "退回原因(必填):", title: "名称", due: "截止日期",
      target: "目标(%)", none: "暂无数据", loading: "正在加载…", loaded: "已加载", error: "加载失败:",
      forecast: "预计完成日期", includesDemo: "含演示数据", demoPilots: "演示试点(不计入目标)",
      forecasts: {behind_trend: "落后于自身趋势", not_rising: "无上升趋势", beyond_horizon: "十年内无法完成",
        insufficient_data: "已审核季度不足两个"},
      shown: function (a, b, m) { return a === 1 ? "显示前 " + b + " 项，共 " + m + " 项。" : "显示第 " + a + "–" + b + " 项，共 " + m + " 项。"; },
      computedAt: function (t) { return "清单计算于 " + t + "。"; },
      pages: {overdue: "逾期事项分页", behind: "进度滞后子任务分页", reports: "进展报告分页", milestones: "里程碑分页"},
      previousPage: "上一页", nextPage: "下一页",
      demo: "演示 / demo", overall: "总体", goalOf: "目标",
      states: {draft: "草稿", submitted: "已提交", approved: "已通过", returned: "已退回"},
      kind: "事项", level: "级别",
      levels: {escalation: "升级督办", repeat: "再次提醒", overdue: "逾期", due_soon: "临期"},
      sched: {ahead: "超前", on_track: "正常", behind: "滞后", critical: "严重滞后"}
    },
    en: {
      completion: "Completion (%)", planned: "Planned (%)", variance: "Variance (points)", status: "Status",
      designated: "Designated pilots", accepted: "Accepted pilots", projected: "Projected complete by deadline",
      asOf: "As of", pilots: "Pilots", noReport: "No approved report", prefecture: "Prefecture", task: "Task",
      department: "Department", pilot: "Pilot", subtask: "Sub-task", approved: "Approved (%)",
      pending: "Pending (%)", date: "Date", period: "Quarter", revision: "Revision", state: "Review state",
      percent: "Percent", actions: "Actions", approve: "Approve", giveBack: "Return",
      returnComment: "Why is it returned (required):", title: "Title", due: "Due", target: "Target (%)",
      none: "No data yet", loading: "Loading…", loaded: "Loaded", error: "Could not load:",
      forecast: "Projected completion", includesDemo: "includes demo data",
      demoPilots: "Demo pilots (not counted towards the goal)",
      forecasts: {behind_trend: "behind its own trend", not_rising: "no rising trend",
        beyond_horizon: "more than 10 years away", insufficient_data: "fewer than two approved quarters"},
      shown: function (a, b, m) { return a === 1 ? "Showing the first " + b + " of " + m + "." : "Showing " + a + "–" + b + " of " + m + "."; },
      computedAt: function (t) { return "List computed " + t + "."; },
      pages: {overdue: "Overdue items, pages", behind: "Sub-tasks behind schedule, pages", reports: "Progress reports, pages",
        milestones: "Milestones, pages"},
      previousPage: "Previous page", nextPage: "Next page",
      demo: "演示 / demo", overall: "Overall", goalOf: "goal",
      states: {draft: "draft", submitted: "submitted", approved: "approved", returned: "returned"},
      kind: "What", level: "Level",
      levels: {escalation: "escalated", repeat: "repeated", overdue: "overdue", due_soon: "due soon"},
      sched: {ahead: "ahead", on_track: "on track", behind: "behind", critical: "critical"}
    }
  }[LANG];

  // --- Small helpers ------------------------------------------------------------------------------

  function name(obj) {
    if (!obj) return "";
    return (LANG === "en" ? obj.name_en : obj.name_zh) || obj.name_zh || obj.code || "";
  }

  function num(value) {
    return value === null || value === undefined || value === "" ? null : Number(value);
  }

  function fmt(value) {
    var n = num(value);
    return n === null ? "—" : n.toFixed(1);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function demoBadge() {
    return el("span", {className: "badge demo", title: "演示数据,非正式认定 / Demo data, not an official designation",
      text: T.demo});
  }

  // A chart (and its table) whose figures include demo data says so above it, in words, not in colour only.
  function markDemo(chartId, rows) {
    var node = document.getElementById(chartId);
    if (!node || !rows.some(function (r) { return r.includes_demo; })) return;
    var figure = node.closest("figure") || node;
    var note = el("p", {className: "note demo-note", id: chartId + "-demo"}, [demoBadge(), " " + T.includesDemo]);
    figure.parentNode.insertBefore(note, figure);
    node.setAttribute("aria-label", node.getAttribute("aria-label") + " (" + T.includesDemo + ")");
  }

  // A table row's name, with the demo badge when its figures include demo data.
  function named(text, row, href) {
    var parts = [href ? el("a", {href: href, text: text}) : text];
    if (row.includes_demo) { parts.push(" "); parts.push(demoBadge()); }
    return parts;
  }

  function withParams(url, params) {
    var query = Object.keys(params).filter(function (k) { return params[k] !== undefined && params[k] !== null; })
      .map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]); }).join("&");
    return query ? url + (url.indexOf("?") >= 0 ? "&" : "?") + query : url;
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function api(url, options) {
    options = options || {};
    var headers = {"Accept": "application/json"};
    Object.keys(options.headers || {}).forEach(function (k) { headers[k] = options.headers[k]; });
    if (options.method && options.method !== "GET") {
      headers["X-CSRFToken"] = csrfToken();
      headers["Content-Type"] = "application/json";
    }
    return fetch(url, {method: options.method || "GET", credentials: "same-origin", headers: headers,
      body: options.body ? JSON.stringify(options.body) : undefined})
      .then(function (response) {
        if (response.status === 404 && options.allow404) return null;
        return response.json().then(function (data) {
          if (!response.ok) {
            var error = new Error((data && data.detail) || response.statusText);
            error.status = response.status;
            throw error;
          }
          return data;
        });
      });
  }

  // Every row of a list, page after page (for charts, which show all or nothing); a table that shows
  // one page at a time uses pagedTable below.
  function list(url, params) {
    var rows = [];
    function from(page) {
      return api(withParams(url, Object.assign({}, params, {page: page, page_size: 500}))).then(function (data) {
        rows = rows.concat(data.results);
        return data.next ? from(page + 1) : rows;
      });
    }
    return from(1);
  }

  function snapshot() { return REAL_ONLY ? {real_only: "true"} : {}; }

  function table(containerId, headers, rows) {
    var container = document.getElementById(containerId);
    if (!container) return;
    container.textContent = "";
    if (!rows.length) { container.appendChild(el("p", {className: "empty", text: T.none})); return; }
    var head = el("tr", {}, headers.map(function (h) { return el("th", {scope: "col", text: h}); }));
    var bodyRows = rows.map(function (row) {
      return el("tr", {}, row.map(function (cell) {
        if (cell instanceof Node) return el("td", {}, [cell]);
        if (Array.isArray(cell)) return el("td", {}, cell);
        return el("td", {text: cell === null || cell === undefined ? "—" : String(cell)});
      }));
    });
    container.appendChild(el("table", {}, [el("thead", {}, [head]), el("tbody", {}, bodyRows)]));
  }

  var charts = [];

  function chart(id, option, onClick) {
    var node = document.getElementById(id);
    if (!node || !window.echarts) return null;
    var instance = window.echarts.init(node, null, {renderer: "canvas"});
    option.animation = false;
    option.aria = {enabled: true};
    instance.setOption(option);
    if (onClick) instance.on("click", onClick);
    charts.push(instance);
    return instance;
  }

  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });

  function barOption(labels, values, max) {
    return {
      grid: {left: 8, right: 16, top: 24, bottom: 8, containLabel: true},
      tooltip: {trigger: "axis"},
      xAxis: {type: "category", data: labels, axisLabel: {interval: 0, rotate: labels.length > 8 ? 40 : 0}},
      yAxis: {type: "value", min: 0, max: max || 100, name: T.completion},
      series: [{type: "bar", data: values, label: {show: labels.length <= 12, position: "top"}}]
    };
  }

  function historyChart(id, rows) {
    chart(id, {
      grid: {left: 8, right: 16, top: 40, bottom: 8, containLabel: true},
      tooltip: {trigger: "axis"},
      legend: {top: 0, data: [T.completion, T.planned]},
      // A time axis: the dates are spaced as far apart as they are (a quarter is not a year).
      xAxis: {type: "time"},
      yAxis: {type: "value", min: 0, max: 100},
      series: [
        {name: T.completion, type: "line", data: rows.map(function (r) { return [r.as_of, num(r.completion)]; })},
        {name: T.planned, type: "line", lineStyle: {type: "dashed"},
          data: rows.map(function (r) { return [r.as_of, num(r.planned)]; })}
      ]
    });
    markDemo(id, rows);
    table(id + "-table", [T.asOf, T.completion, T.planned, T.variance],
      rows.map(function (r) { return [r.as_of, fmt(r.completion), fmt(r.planned), fmt(r.variance)]; }));
  }

  function kpis(containerId, items) {
    var container = document.getElementById(containerId);
    container.textContent = "";
    items.forEach(function (item) {  // [label, value, includes demo data?]
      var label = [item[0]];
      if (item[2]) { label.push(" "); label.push(demoBadge()); }
      container.appendChild(el("div", {className: "kpi"}, [
        el("span", {className: "kpi-value", text: String(item[1])}), el("span", {className: "kpi-label"}, label)
      ]));
    });
  }

  function sched(status) { return status ? (T.sched[status] || status) : "—"; }

  function pilotLink(pilot) {
    var parts = [el("a", {href: withParams("/dashboard/pilots/" + pilot.id + "/", snapshot()), text: name(pilot)})];
    if (pilot.is_demo) { parts.push(" "); parts.push(demoBadge()); }
    return parts;
  }

  // --- Lists longer than a page -------------------------------------------------------------------

  // Every table that can be longer than a page: the total is the API's `count` (never the length of the
  // page it fetched), "#KEY-count" says which rows are shown of it, and Previous/Next buttons page on
  // (keyboard reachable; the focus stays on the button pressed). config: url, params, headers, row(entry)
  // and note(data) for more status text.
  var paged = {};

  function pagedTable(key, config, page) {
    paged[key] = config;
    config.page = page = page || config.page || 1;
    var size = PAGE_SIZES[key];
    return api(withParams(config.url, Object.assign({}, config.params, {page: page, page_size: size})))
      .catch(function (error) {  // the list got shorter than the page shown (a review, a recompute)
        if (error.status === 404 && page > 1) return pagedTable(key, config, 1).then(function () { return null; });
        throw error;
      })
      .then(function (data) {
        if (!data) return;
        var entries = data.results;
        var first = (page - 1) * size + 1;
        var status = document.getElementById(key + "-count");
        if (status) {
          var shown = data.count > entries.length && entries.length ? T.shown(first, first + entries.length - 1, data.count) : "";
          var note = config.note ? config.note(data) : "";
          status.textContent = shown + (shown && note ? " " : "") + note;
        }
        table(key + "-table", config.headers, entries.map(config.row));
        pager(key, page, data);
      });
  }

  function pager(key, page, data) {
    var nav = document.getElementById(key + "-pages");
    if (!nav) {
      var anchor = document.getElementById(key + "-table");
      if (!anchor) return;
      nav = el("nav", {id: key + "-pages", className: "pager", "aria-label": T.pages[key]});
      anchor.parentNode.insertBefore(nav, anchor.nextSibling);
    }
    var focused = nav.contains(document.activeElement) ? document.activeElement.dataset.to : null;
    nav.textContent = "";
    if (!data.previous && !data.next) return;
    var buttons = [["previous", T.previousPage, data.previous, page - 1], ["next", T.nextPage, data.next, page + 1]]
      .map(function (b) {
        var button = el("button", {type: "button", "data-to": b[0], text: b[1]});
        if (!b[2]) button.disabled = true;
        button.addEventListener("click", function () { pagedTable(key, paged[key], b[3]); });
        nav.appendChild(button);
        return button;
      });
    if (focused) {  // re-drawn under the keyboard: keep the focus on the same button, or the other one at an end
      var same = buttons.filter(function (b) { return b.dataset.to === focused; })[0];
      (same.disabled ? buttons.filter(function (b) { return b !== same; })[0] : same).focus();
    }
  }

  // What is overdue, from the same API integrators use, in its order (most urgent level first, then oldest).
  function overdueSection(filters) {
    return pagedTable("overdue", {
      url: "/api/v1/overdue/", params: filters,
      headers: [T.pilot, T.subtask, T.period, T.kind, T.level, T.due],
      row: function (e) {
        return [pilotLink(e.pilot), e.subtask.code + " " + name(e.subtask), e.period || "—",
          KINDS[e.kind] || e.kind, T.levels[e.level] || e.level, e.due_on];
      },
      note: function (data) {
        return data.computed_at ? T.computedAt(data.computed_at.slice(0, 16).replace("T", " ")) : "";
      }
    });
  }

  // The sub-tasks behind schedule, most urgent first (critical, then the largest shortfall), in the API's order.
  function behindSection(filters) {
    return pagedTable("behind", {
      url: "/api/v1/completion/behind/", params: Object.assign({}, filters, snapshot()),
      headers: [T.pilot, T.subtask, T.approved, T.planned, T.variance, T.status],
      row: function (x) {
        return [pilotLink(x.pilot), x.subtask.code + " " + name(x.subtask), fmt(x.approved_percent),
          fmt(x.planned_percent), fmt(x.variance), sched(x.schedule_status)];
      }
    });
  }

  // --- Pilot × task heatmap (overview and prefecture pages) ----------------------------------------

  function pilotsSection(filters) {
    var params = {};
    Object.keys(filters).forEach(function (k) { params[k] = filters[k]; });
    if (REAL_ONLY) params.demo = "false";
    return list("/api/v1/pilots/", params).then(function (pilots) {
      return Promise.all(pilots.map(function (pilot) {
        return api(withParams("/api/v1/pilots/" + pilot.id + "/completion/", snapshot()), {allow404: true})
          .then(function (figures) { return {pilot: pilot, figures: figures}; });
      }));
    }).then(function (entries) {
      entries = entries.filter(function (e) { return e.figures; });
      var tasks = [];
      entries.forEach(function (e) {
        e.figures.tasks.forEach(function (t) {
          if (!tasks.some(function (x) { return x.code === t.task.code; })) tasks.push(t.task);
        });
      });
      var pilotLabels = entries.map(function (e) { return name(e.pilot) + (e.pilot.is_demo ? " [" + T.demo + "]" : ""); });
      var data = [];
      entries.forEach(function (e, y) {
        e.figures.tasks.forEach(function (t) {
          var x = tasks.findIndex(function (task) { return task.code === t.task.code; });
          data.push([x, y, num(t.figures.completion)]);
        });
      });
      chart("chart-heatmap", {
        grid: {left: 8, right: 16, top: 8, bottom: 56, containLabel: true},
        tooltip: {position: "top"},
        xAxis: {type: "category", data: tasks.map(function (t) { return t.code; })},
        yAxis: {type: "category", data: pilotLabels, inverse: true},
        visualMap: {min: 0, max: 100, calculable: true, orient: "horizontal", left: "center", bottom: 0},
        series: [{type: "heatmap", data: data, label: {show: true}}]
      }, function (params) {
        var entry = entries[params.value[1]];
        if (entry) window.location.href = withParams("/dashboard/pilots/" + entry.pilot.id + "/", snapshot());
      });
      markDemo("chart-heatmap", entries.map(function (e) { return e.figures.figures; }));
      var heat = document.getElementById("chart-heatmap");
      if (heat) heat.style.height = Math.max(240, 28 * entries.length + 100) + "px";
      charts.forEach(function (c) { c.resize(); });
      table("chart-heatmap-table", [T.pilot, T.overall].concat(tasks.map(function (t) { return t.code + " " + name(t); })),
        entries.map(function (e) {
          return [pilotLink(e.pilot), fmt(e.figures.figures.completion)].concat(tasks.map(function (task) {
            var t = e.figures.tasks.find(function (x) { return x.task.code === task.code; });
            return t ? fmt(t.figures.completion) : "—";
          }));
        }));
    });
  }

  // --- Pages ---------------------------------------------------------------------------------------

  function overviewPage() {
    var snap = snapshot();
    return Promise.all([
      api(withParams("/api/v1/completion/province/", snap), {allow404: true}).then(function (p) {
        if (!p) { kpis("goal-kpis", [[T.none, "—"]]); return; }
        // Goal attainment counts real pilots only; the demo pilots are shown beside it, labelled.
        var real = function (value, all) { return value === null || value === undefined ? all : value; };
        var items = [
          [T.designated, real(p.designated_real, p.designated_count) + " / " + p.goal],
          [T.accepted, real(p.accepted_real, p.accepted_count) + " / " + p.goal]
        ];
        if (p.designated_demo) items.push([T.demoPilots, p.designated_demo, true]);
        items.push([T.projected, p.projected_complete_count + " / " + p.goal, p.includes_demo],
          [T.completion, fmt(p.completion), p.includes_demo], [T.planned, fmt(p.planned), p.includes_demo],
          [T.asOf, p.as_of]);
        kpis("goal-kpis", items);
      }),
      list("/api/v1/completion/history/", Object.assign({scope: "province"}, snap)).then(function (rows) {
        historyChart("chart-province-history", rows);
      }),
      list("/api/v1/completion/prefectures/", snap).then(function (rows) {
        chart("chart-prefectures", barOption(rows.map(function (r) { return name(r.prefecture); }),
          rows.map(function (r) { return num(r.completion); })), function (params) {
          var row = rows[params.dataIndex];
          if (row) window.location.href = withParams("/dashboard/prefectures/" + row.prefecture.code + "/", snap);
        });
        markDemo("chart-prefectures", rows);
        table("chart-prefectures-table", [T.prefecture, T.completion, T.planned, T.variance, T.pilots, T.noReport],
          rows.map(function (r) {
            return [named(name(r.prefecture), r, withParams("/dashboard/prefectures/" + r.prefecture.code + "/", snap)),
              fmt(r.completion), fmt(r.planned), fmt(r.variance), r.pilot_count, r.no_report_count];
          }));
      }),
      list("/api/v1/completion/tasks/", snap).then(function (rows) {
        chart("chart-tasks", barOption(rows.map(function (r) { return r.task.code; }),
          rows.map(function (r) { return num(r.completion); })));
        table("chart-tasks-table", [T.task, T.completion, T.planned, T.variance],
          rows.map(function (r) { return [named(r.task.code + " " + name(r.task), r), fmt(r.completion), fmt(r.planned), fmt(r.variance)]; }));
        markDemo("chart-tasks", rows);
      }),
      list("/api/v1/completion/departments/", snap).then(function (rows) {
        chart("chart-departments", barOption(rows.map(function (r) { return name(r.department); }),
          rows.map(function (r) { return num(r.completion); })));
        table("chart-departments-table", [T.department, T.completion, T.planned, T.variance],
          rows.map(function (r) { return [named(name(r.department), r), fmt(r.completion), fmt(r.planned), fmt(r.variance)]; }));
        markDemo("chart-departments", rows);
      }),
      pilotsSection({}),
      behindSection({}),
      overdueSection({})
    ]);
  }

  function prefecturePage() {
    var code = body.dataset.prefecture;
    var snap = snapshot();
    return Promise.all([
      list("/api/v1/completion/prefectures/", Object.assign({prefecture: code}, snap)).then(function (rows) {
        var r = rows[0];
        if (!r) { kpis("prefecture-kpis", [[T.none, "—"]]); return; }
        kpis("prefecture-kpis", [[T.completion, fmt(r.completion), r.includes_demo],
          [T.planned, fmt(r.planned), r.includes_demo], [T.variance, fmt(r.variance), r.includes_demo],
          [T.pilots, r.pilot_count], [T.noReport, r.no_report_count], [T.asOf, r.as_of]]);
      }),
      list("/api/v1/completion/history/", Object.assign({scope: "prefecture", id: body.dataset.prefectureId}, snap))
        .then(function (rows) { historyChart("chart-prefecture-history", rows); }),
      pilotsSection({prefecture: code}),
      behindSection({prefecture: code}),
      overdueSection({prefecture: code})
    ]);
  }

  function reportsTable(pilotId) {
    return pagedTable("reports", {
      url: "/api/v1/reports/", params: {pilot: pilotId},
      headers: [T.subtask, T.period, T.revision, T.percent, T.state, T.actions],
      row: function (r) {
          var actions = [];
          if (CAN_REVIEW && r.state === "submitted") {
            var approve = el("button", {type: "button", className: "approve", "data-report": r.id, text: T.approve});
            var giveBack = el("button", {type: "button", className: "return", "data-report": r.id, text: T.giveBack});
            approve.addEventListener("click", function () { review(r, "approve", {comment: ""}); });
            giveBack.addEventListener("click", function () {
              var comment = window.prompt(T.returnComment);
              if (comment) review(r, "return", {comment: comment});
            });
            actions = [approve, " ", giveBack];
          }
          var state = [el("span", {className: "state state-" + r.state, text: T.states[r.state] || r.state})];
          if (r.is_demo) { state.push(" "); state.push(demoBadge()); }
          return [r.subtask.code + " " + name(r.subtask), r.period, r.revision, fmt(r.percent_complete), state, actions];
      }
    });
  }

  function review(report, action, payload) {
    setStatus(T.loading);
    api("/api/v1/reports/" + report.id + "/" + action + "/", {method: "POST", body: payload,
      headers: {"If-Match": report.etag}})
      .then(function () { return pagedTable("reports", paged.reports); })  // the same page, re-read
      .then(function () { setStatus(T.loaded); })
      .catch(function (error) { setStatus(T.error + " " + error.message); });
  }

  function pilotPage() {
    var id = body.dataset.pilot;
    var snap = snapshot();
    return Promise.all([
      api(withParams("/api/v1/pilots/" + id + "/completion/", snap), {allow404: true}).then(function (p) {
        if (!p) { kpis("pilot-kpis", [[T.none, "—"]]); return; }
        var demo = p.figures.includes_demo;
        kpis("pilot-kpis", [[T.completion, fmt(p.figures.completion), demo], [T.planned, fmt(p.figures.planned), demo],
          [T.variance, fmt(p.figures.variance), demo], [T.status, sched(p.figures.schedule_status)],
          [T.forecast, forecastText(p.forecast)], [T.asOf, p.figures.as_of]]);
        var subs = [];
        p.tasks.forEach(function (t) { t.subtasks.forEach(function (s) { subs.push(s); }); });
        chart("chart-subtasks", {
          grid: {left: 8, right: 16, top: 40, bottom: 8, containLabel: true},
          tooltip: {trigger: "axis"},
          legend: {top: 0, data: [T.approved, T.pending, T.planned]},
          xAxis: {type: "category", data: subs.map(function (s) { return s.subtask.code; })},
          yAxis: {type: "value", min: 0, max: 100},
          series: [
            {name: T.approved, type: "bar", data: subs.map(function (s) { return num(s.approved_percent); })},
            {name: T.pending, type: "bar", data: subs.map(function (s) { return num(s.pending_percent); })},
            {name: T.planned, type: "line", data: subs.map(function (s) { return num(s.planned_percent); })}
          ]
        });
        markDemo("chart-subtasks", subs);
        table("chart-subtasks-table", [T.subtask, T.approved, T.pending, T.planned, T.variance, T.status],
          subs.map(function (s) {
            return [s.subtask.code + " " + name(s.subtask), fmt(s.approved_percent) + (s.approved_period ? " (" + s.approved_period + ")" : ""),
              s.pending_percent === null ? "—" : fmt(s.pending_percent) + " (" + s.pending_period + ")",
              fmt(s.planned_percent), fmt(s.variance), sched(s.schedule_status)];
          }));
      }),
      list("/api/v1/completion/history/", Object.assign({scope: "pilot", id: id}, snap))
        .then(function (rows) { historyChart("chart-pilot-history", rows); }),
      reportsTable(id),
      pagedTable("milestones", {
        url: "/api/v1/milestones/", params: {pilot: id}, headers: [T.subtask, T.title, T.due, T.target],
        row: function (m) { return [m.subtask, m.title, m.due_on, fmt(m.target_percent)]; }
      })
    ]);
  }

  // A date only when there is one; otherwise why not ("behind its own trend" is not "done today").
  function forecastText(forecast) {
    if (forecast.projected_completion_date) return forecast.projected_completion_date;
    return T.forecasts[forecast.status] || "—";
  }

  function setStatus(text) {
    var node = document.getElementById("load-status");
    if (node) node.textContent = text;
  }

  var pages = {overview: overviewPage, prefecture: prefecturePage, pilot: pilotPage};
  var run = pages[body.dataset.page];
  if (run) {
    setStatus(T.loading);
    run().then(function () {
      setStatus(T.loaded);
      body.dataset.loaded = "true";
    }).catch(function (error) {
      setStatus(T.error + " " + error.message);
      body.dataset.loaded = "error";
    });
  }
})();
