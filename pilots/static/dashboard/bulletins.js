/* The overview's list of quarterly bulletins (季度通报), read from /api/v1/bulletins/: each one's quarter,
 * revision, figures' date and status, with its Word and PDF files once published. The worker generates them. */
(function () {
  "use strict";

  var wrap = document.getElementById("bulletins-table");
  if (!wrap) return;
  var LANG = document.body.dataset.lang === "en" ? "en" : "zh";
  var T = {
    zh: {period: "季度", revision: "版本", asOf: "数据截至", status: "状态", files: "文件", none: "暂无通报",
         statuses: {queued: "排队中", running: "生成中", published: "已发布", failed: "生成失败"}, demo: "演示 / demo"},
    en: {period: "Quarter", revision: "Revision", asOf: "Figures as of", status: "Status", files: "Files",
         none: "No bulletin yet", statuses: {queued: "queued", running: "being generated", published: "published",
         failed: "failed"}, demo: "演示 / demo"}
  }[LANG];

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key]; else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }
  function path(url) { return url ? url.replace(/^https?:\/\/[^/]+/, "") : null; }

  fetch("/api/v1/bulletins/?page_size=20", {credentials: "same-origin", headers: {Accept: "application/json"}})
    .then(function (response) { if (!response.ok) throw new Error(response.status); return response.json(); })
    .then(function (data) {
      if (!data.results.length) { wrap.appendChild(el("p", {className: "empty", text: T.none})); return; }
      var head = el("tr", {}, [T.period, T.revision, T.asOf, T.status, T.files]
        .map(function (h) { return el("th", {scope: "col", text: h}); }));
      var rows = data.results.map(function (b) {
        var files = [];
        if (b.docx_url) files.push(el("a", {href: path(b.docx_url), text: "Word"}), " ", el("a", {href: path(b.pdf_url), text: "PDF"}));
        var status = [T.statuses[b.status] || b.status];
        if (b.status === "running") status.push(" " + b.progress + "%");
        if (b.demo_label) status.push(" ", el("span", {className: "badge demo", title: b.demo_label[LANG === "en" ? "en" : "zh"], text: T.demo}));
        return el("tr", {}, [el("th", {scope: "row", text: b.period}), el("td", {text: String(b.revision)}),
          el("td", {text: b.as_of}), el("td", {}, status), el("td", {}, files)]);
      });
      wrap.appendChild(el("table", {}, [el("thead", {}, [head]), el("tbody", {}, rows)]));
      wrap.dataset.loaded = "true";
    })
    .catch(function (error) { wrap.textContent = String(error.message || error); wrap.dataset.loaded = "error"; });
})();
