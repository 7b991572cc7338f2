(function () {
  'use strict';
  // Data from logs is never inserted as markup here: only textContent and
  // attributes set by the report generator are read.
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  var NUM = /^-?\d+(\.\d+)?$/;
  var key = function (cell) {
    if (!cell) { return ''; }
    var k = cell.getAttribute('data-sort');
    return k === null ? cell.textContent.trim().toLowerCase() : k;
  };
  var cmp = function (a, b) {
    if (NUM.test(a) && NUM.test(b)) { return parseFloat(a) - parseFloat(b); }
    return a < b ? -1 : (a > b ? 1 : 0);
  };
  each(document.querySelectorAll('table.sortable'), function (table) {
    if (!table.tHead || !table.tBodies.length) { return; }
    var heads = table.tHead.rows[0].cells;
    each(heads, function (th, i) {
      th.tabIndex = 0;
      var sort = function () {
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        each(heads, function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var c = cmp(key(r1.cells[i]), key(r2.cells[i]));
          return asc ? c : -c;
        });
        each(rows, function (r) { body.appendChild(r); });
      };
      th.addEventListener('click', sort);
      th.addEventListener('keydown', function (e) { if (e.key === 'Enter') { sort(); } });
    });
  });
  var filter = document.getElementById('det-filter');
  var level = document.getElementById('det-level');
  var count = document.getElementById('det-count');
  var table = document.getElementById('det-table');
  if (filter && level && count && table && table.tBodies.length) {
    var apply = function () {
      var q = filter.value.trim().toLowerCase();
      var min = parseInt(level.value, 10) || 0;
      var n = 0;
      each(table.tBodies[0].rows, function (r) {
        var ok = (parseInt(r.getAttribute('data-level'), 10) || 0) >= min &&
          (q === '' || r.textContent.toLowerCase().indexOf(q) !== -1);
        r.hidden = !ok;
        if (ok) { n += 1; }
      });
      count.textContent = String(n);
    };
    filter.addEventListener('input', apply);
    level.addEventListener('change', apply);
    each(document.querySelectorAll('.filters'), function (f) { f.hidden = false; });
    apply();
  }
  // The browser test looks for this marker: the script ran to the end.
  document.documentElement.setAttribute('data-vigie-ready', '1');
}());
