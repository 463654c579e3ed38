// The secworks dashboard (/ui): logs in like GraphiQL's page does (POST /graphql/tokens with
// HTTP Basic), keeps the bearer token in memory only, and reads everything it shows with one
// POST /graphql query, again every 30 seconds. Charts are uPlot (web/vendor, loaded before
// this file); each has a text summary (its aria-label) and its data as a table.
//
// Every text that comes from the API goes into the page as text (textContent), never as
// HTML: a blocklist's TXT reason is whatever the blocklist's DNS said.
'use strict';

(function () {
  const REFRESH_MS = 30_000;
  const HOURS = 48;
  const COUNT_STEPS = [1, 2, 5].flatMap((m) => [1, 10, 100, 1e3, 1e4, 1e5, 1e6].map((p) => m * p)).sort((a, b) => a - b);
  const QUERY = `{
    blocklists { id name enabled healthy paused_reason queries_today daily_budget }
    queueStatus { pending running done failed paused paused_reason }
    blocklistUsage(hours: ${HOURS}) { blocklist hour queries hourly_budget }
    listedTargets(hours: ${HOURS}) { blocklist hour listed }
    watchedListings(first: 200) { target blocklist return_codes reason delist_url checked_at watchlists }
    latestListingEvents(last: 20) { at target blocklist change return_codes reason }
  }`;

  const $ = (id) => document.getElementById(id);
  const form = $('login');
  const session = $('session');
  const status = $('login-status');
  const board = $('board');
  const updated = $('updated');
  const numbers = new Intl.NumberFormat('en');
  let token = null;
  let timer = null;
  let last = null;
  const charts = {};

  function basic(username, password) {
    const bytes = new TextEncoder().encode(username + ':' + password);
    return 'Basic ' + btoa(String.fromCharCode(...bytes));
  }

  function showLoggedIn(on, message) {
    form.hidden = on;
    session.hidden = !on;
    board.hidden = !on;
    status.textContent = message;
    if (!on) {
      clearInterval(timer);
      timer = null;
      token = null;
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const username = form.elements.username.value;
    status.textContent = 'Logging in…';
    try {
      // credentials 'omit': the header is explicit, and a refused login must not make the
      // browser answer the server's Basic challenge with its own login dialog.
      const res = await fetch('/graphql/tokens', {
        method: 'POST',
        credentials: 'omit',
        headers: { Authorization: basic(username, form.elements.password.value) },
      });
      const body = await res.json().catch(() => ({}));
      if (!res.ok || typeof body.token !== 'string') {
        status.textContent = 'Not logged in: ' + (body.error || 'HTTP ' + res.status) + '.';
        return;
      }
      form.elements.password.value = '';
      token = body.token;
      showLoggedIn(true, 'Logged in as ' + username + '.');
      await load();
      timer = setInterval(load, REFRESH_MS);
      $('main').focus();
    } catch (err) {
      status.textContent = 'Not logged in: ' + err.message + '.';
    }
  });

  $('refresh').addEventListener('click', () => load());

  $('logout').addEventListener('click', async () => {
    const old = token;
    showLoggedIn(false, 'Logged out.');
    try {
      await fetch('/graphql/tokens', {
        method: 'DELETE',
        credentials: 'omit',
        headers: { Authorization: 'Bearer ' + old },
      });
    } catch (err) {
      status.textContent = 'Logged out here; revoking the token failed: ' + err.message + '.';
    }
  });

  async function load() {
    if (!token) return;
    let res;
    try {
      res = await fetch('/graphql', {
        method: 'POST',
        credentials: 'omit',
        headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
        body: JSON.stringify({ query: QUERY }),
      });
    } catch (err) {
      updated.textContent = 'Refresh failed: ' + err.message + '.';
      return;
    }
    if (res.status === 401) {
      showLoggedIn(false, 'Your session ended (the token expired or was revoked). Log in again.');
      return;
    }
    const body = await res.json().catch(() => ({}));
    if (!res.ok || !body.data) {
      const why = body.errors?.map((e) => e.message).join('; ') || 'HTTP ' + res.status;
      updated.textContent = 'Refresh failed: ' + why + '.';
      return;
    }
    last = body.data;
    render(last);
    updated.textContent = 'Updated ' + utc(new Date().toISOString()) + ' UTC.';
  }

  // ---- rendering -------------------------------------------------------------------------

  function render(data) {
    renderLists(data.blocklists);
    renderQueue(data.queueStatus);
    renderUsage(data.blocklistUsage);
    renderListed(data.listedTargets);
    renderWatched(data.watchedListings);
    renderEvents(data.latestListingEvents);
  }

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children) {
      if (child == null) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function fill(tbody, rows, columns, empty) {
    if (rows.length === 0) {
      tbody.replaceChildren(el('tr', null, el('td', { colSpan: columns, className: 'empty' }, empty)));
    } else {
      tbody.replaceChildren(...rows);
    }
  }

  /** `2024-01-01T05:00:00.000000Z` as `2024-01-01 05:00:00`. */
  function utc(text) {
    return text.replace('T', ' ').replace(/\.\d+Z$|Z$/, '');
  }

  function link(url, text) {
    // Only web links: the URL comes from the catalogue through the API.
    if (!/^https?:\/\//i.test(url || '')) return null;
    return el('a', { href: url, rel: 'noreferrer noopener', target: '_blank' }, text);
  }

  function renderLists(lists) {
    const enabled = lists.filter((l) => l.enabled);
    const rows = enabled.map((l) => {
      const health = l.healthy && !l.paused_reason
        ? el('span', { className: 'status-ok' }, 'Healthy')
        : el('span', { className: 'status-bad' }, l.healthy ? 'Paused' : 'Unhealthy');
      const why = l.paused_reason ? ': ' + l.paused_reason : '';
      let used = el('span', null, 'no limit');
      if (l.daily_budget) {
        const share = l.queries_today / l.daily_budget;
        const meter = el('meter', {
          min: 0, max: 1, low: 0.75, high: 0.9, optimum: 0, value: Math.min(share, 1),
        });
        meter.setAttribute('aria-label', 'Budget used by ' + l.name);
        used = el('span', { className: 'budget' }, meter, (share * 100).toFixed(1) + '%');
      }
      return el('tr', null,
        el('th', { scope: 'row' }, l.name + ' ', el('code', null, l.id)),
        el('td', null, health, why),
        el('td', { className: 'num' }, numbers.format(l.queries_today)),
        el('td', { className: 'num' }, l.daily_budget == null ? '–' : numbers.format(l.daily_budget)),
        el('td', null, used));
    });
    fill($('lists').tBodies[0], rows, 5, 'No blocklist is enabled.');
    const others = lists.length - enabled.length;
    $('lists-other').textContent = others
      ? others + ' more in the catalogue are not queried (SECWORKS_BLOCKLISTS enables them).'
      : '';
  }

  function renderQueue(q) {
    const set = (field, text) => { $('queue').querySelector(`[data-field="${field}"]`).textContent = text; };
    for (const field of ['pending', 'running', 'done', 'failed']) set(field, numbers.format(q[field]));
    set('state', q.paused ? 'Paused: ' + (q.paused_reason || 'no reason given') : 'Running');
  }

  function renderWatched(listings) {
    const rows = listings.map((w) => el('tr', null,
      el('th', { scope: 'row' }, el('code', null, w.target)),
      el('td', null, w.blocklist),
      el('td', null, w.return_codes.join(', ')),
      el('td', { className: 'reason' }, w.reason || '–'),
      el('td', null, utc(w.checked_at)),
      el('td', null, w.watchlists.join(', ')),
      el('td', null, link(w.delist_url, 'Delisting for ' + w.target) || '–')));
    fill($('watched').tBodies[0], rows, 7, 'No watched target is listed.');
  }

  function renderEvents(events) {
    const rows = events.map((e) => el('tr', null,
      el('td', null, utc(e.at)),
      el('th', { scope: 'row' }, el('code', null, e.target)),
      el('td', null, e.blocklist),
      el('td', null, el('span', { className: 'change-' + e.change.toLowerCase() }, e.change)),
      el('td', null, e.return_codes.join(', ') || '–'),
      el('td', { className: 'reason' }, e.reason || '–')));
    fill($('events').tBodies[0], rows, 6, 'No listing events yet.');
  }

  // ---- charts ----------------------------------------------------------------------------

  /** The hours (as Unix seconds) and one array of values per key, from rows of one hour each. */
  function pivot(rows, key, value) {
    const hours = [...new Set(rows.map((r) => r.hour))];
    const keys = [...new Set(rows.map(key))];
    const index = new Map(hours.map((h, i) => [h, i]));
    const columns = new Map(keys.map((k) => [k, hours.map(() => null)]));
    for (const r of rows) columns.get(key(r))[index.get(r.hour)] = value(r);
    return { hours, seconds: hours.map((h) => Date.parse(h) / 1000), keys, columns };
  }

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function palette(i) {
    return cssVar('--series-' + (i % 6));
  }

  /** Draws (or redraws) a chart into the element `id`, and a legend after it. */
  function draw(id, seconds, series, yLabel) {
    const target = $(id);
    charts[id]?.destroy();
    const axis = { stroke: cssVar('--fg'), grid: { stroke: cssVar('--grid') }, ticks: { stroke: cssVar('--grid') } };
    const opts = {
      width: Math.max(target.clientWidth, 300),
      height: 280,
      legend: { show: false },
      cursor: { show: true, drag: { x: false, y: false } },
      // Hours are UTC hours: show them so.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max * 1.1, 1)] } },
      // Counts: whole-number steps only.
      axes: [axis, { ...axis, label: yLabel, size: 60, incrs: COUNT_STEPS }],
      series: [{}, ...series.map((s) => ({
        label: s.label, stroke: s.color, width: 2, dash: s.dash, points: { show: false }, spanGaps: true,
      }))],
    };
    charts[id] = new uPlot(opts, [seconds, ...series.map((s) => s.values)], target);
    let legend = target.nextElementSibling;
    if (!legend || !legend.classList.contains('legend')) {
      legend = el('ul', { className: 'legend' });
      target.after(legend);
    }
    legend.replaceChildren(...series.map((s) => {
      const swatch = el('span', { className: 'swatch' + (s.dash ? ' dashed' : '') });
      swatch.style.borderColor = s.color;
      swatch.setAttribute('aria-hidden', 'true');
      return el('li', null, swatch, s.label);
    }));
  }

  function dataTable(id, hours, keys, columns, format) {
    const table = $(id);
    table.tHead.replaceChildren(el('tr', null,
      el('th', { scope: 'col' }, 'Hour (UTC)'),
      ...keys.map((k) => el('th', { scope: 'col', className: 'num' }, k))));
    // Newest first: the hour one looks for is usually the latest.
    const rows = hours.map((h, i) => el('tr', null,
      el('th', { scope: 'row' }, utc(h)),
      ...keys.map((k) => el('td', { className: 'num' }, format(columns.get(k)[i])))))
      .reverse();
    fill(table.tBodies[0], rows, keys.length + 1, 'No data.');
  }

  function renderUsage(rows) {
    const { hours, seconds, keys, columns } = pivot(rows, (r) => r.blocklist, (r) => r.queries);
    const budgets = new Map(rows.map((r) => [r.blocklist, r.hourly_budget]));
    const series = [];
    keys.forEach((list, i) => {
      series.push({ label: list + ' queries', color: palette(i), values: columns.get(list) });
      const budget = budgets.get(list);
      if (budget != null) {
        series.push({ label: list + ' budget per hour', color: palette(i), dash: [6, 4], values: hours.map(() => budget) });
      }
    });
    draw('usage-chart', seconds, series, 'queries');
    const summary = keys.map((list) => {
      const values = columns.get(list);
      const total = values.reduce((a, b) => a + (b || 0), 0);
      const peak = Math.max(0, ...values.map((v) => v || 0));
      const budget = budgets.get(list);
      const pace = budget == null ? 'no budget' : 'budget ' + numbers.format(Math.round(budget)) + ' an hour';
      return `${list}: ${numbers.format(total)} queries in ${hours.length} hours, at most ${numbers.format(peak)} in an hour (${pace}); ${numbers.format(values[values.length - 1] || 0)} this hour`;
    });
    $('usage-chart').setAttribute('aria-label',
      'Chart of queries per hour. ' + (summary.join('. ') || 'No blocklist is enabled') + '.');
    const withBudget = new Map(keys.map((k) => [k, columns.get(k).map((v) => [v, budgets.get(k)])]));
    dataTable('usage-table', hours, keys, withBudget, ([v, b]) =>
      numbers.format(v || 0) + (b == null ? '' : ' of ' + numbers.format(Math.round(b))));
  }

  function renderListed(rows) {
    const { hours, seconds, keys, columns } = pivot(rows, (r) => r.blocklist, (r) => r.listed);
    const series = keys.map((list, i) => ({ label: list, color: palette(i), values: columns.get(list) }));
    draw('listed-chart', seconds, series, 'listed targets');
    const summary = keys.map((list) => {
      const values = columns.get(list);
      return `${list}: ${numbers.format(values[values.length - 1] || 0)} listed now, ${numbers.format(values[0] || 0)} at the end of the first of the ${hours.length} hours, at most ${numbers.format(Math.max(0, ...values))}`;
    });
    $('listed-chart').setAttribute('aria-label',
      'Chart of listed targets per hour. ' + (summary.join('. ') || 'No blocklist is enabled') + '.');
    dataTable('listed-table', hours, keys, columns, (v) => numbers.format(v || 0));
  }

  // Redraw at a new width, or in the other colour scheme's colours.
  let resizing = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => last && render(last), 200);
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => last && render(last));
})();
