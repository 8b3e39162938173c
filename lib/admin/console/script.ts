/**
 * The web console's browser code, plain ES2020 with no dependencies and no build step. It talks
 * only to the admin API it was served by (relative URLs), builds the DOM with textContent (never
 * innerHTML with data), and routes on the URL hash:
 *   #/services · #/invocations?status=&service=&method=&key= · #/invocations/{id}
 * Kept as a string so the Lambda bundle carries it without a file loader.
 */
export const CONSOLE_JS = String.raw`'use strict';
(function () {
  var main = document.getElementById('main');
  var statusLine = document.getElementById('status');
  /** Cursors of the pages before the current one, for "Previous". */
  var cursors = [];

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'onclick') node.addEventListener('click', attrs[k]);
      else if (k === 'onchange') node.addEventListener('change', attrs[k]);
      else if (k === 'onsubmit') node.addEventListener('submit', attrs[k]);
      else if (attrs[k] !== undefined && attrs[k] !== false) node.setAttribute(k, attrs[k] === true ? '' : attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }

  function api(method, path, body) {
    statusLine.textContent = '';
    var init = { method: method, headers: { accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (res) {
      return res.text().then(function (text) {
        var json = text ? JSON.parse(text) : undefined;
        if (!res.ok) {
          var message = (json && json.message) || res.status + ' ' + res.statusText;
          statusLine.textContent = message;
          throw new Error(message);
        }
        return json;
      });
    });
  }

  function show(title, nodes) {
    main.replaceChildren(el('h2', { text: title }));
    nodes.forEach(function (n) { main.appendChild(n); });
  }

  function table(headers, rows, testid) {
    return el('table', { 'data-testid': testid }, [
      el('thead', {}, [el('tr', {}, headers.map(function (h) { return el('th', { text: h }); }))]),
      el('tbody', {}, rows),
    ]);
  }

  function badge(status) {
    return el('span', { class: 'badge ' + status, text: status });
  }

  // Services ----------------------------------------------------------------------------------
  function services() {
    return api('GET', 'services').then(function (res) {
      var rows = res.services.map(function (s) {
        var toggle = el('input', {
          type: 'checkbox',
          'data-testid': 'public-' + s.name,
          'aria-label': 'public',
          checked: s.public,
          onchange: function (ev) {
            var wanted = ev.target.checked;
            api('PATCH', 'services/' + encodeURIComponent(s.name), { public: wanted }).then(
              function (updated) { ev.target.checked = updated.public; },
              function () { ev.target.checked = !wanted; }
            );
          },
        });
        var methods = s.methods.map(function (m) { return m.name; }).join(', ');
        return el('tr', { 'data-testid': 'service-' + s.name }, [
          el('td', {}, [el('a', { href: '#/invocations?service=' + encodeURIComponent(s.name), text: s.name }), el('div', { class: 'methods', text: methods })]),
          el('td', { text: s.instance_type }),
          el('td', {}, [el('label', {}, [toggle, ' public'])]),
          el('td', { text: String(s.revision) }),
          el('td', { class: 'mono', text: s.endpoint_id }),
        ]);
      });
      show('Services', [table(['Service / methods', 'Type', 'Ingress', 'Revision', 'Deployment'], rows, 'services')]);
    });
  }

  // Invocations -------------------------------------------------------------------------------
  function invocations(params, cursor) {
    var form = el('form', { class: 'filters', 'data-testid': 'filters' }, [
      el('select', { name: 'status', 'aria-label': 'status' }, ['', 'delayed', 'inboxed', 'invoked', 'suspended', 'completed'].map(function (s) {
        return el('option', { value: s, text: s || 'any status', selected: params.get('status') === s && s !== '' });
      })),
      el('input', { name: 'service', placeholder: 'service', value: params.get('service') || '' }),
      el('input', { name: 'method', placeholder: 'method', value: params.get('method') || '' }),
      el('input', { name: 'key', placeholder: 'key', value: params.get('key') || '' }),
      el('button', { type: 'submit', text: 'Filter' }),
    ]);
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var q = new URLSearchParams();
      ['status', 'service', 'method', 'key'].forEach(function (n) { if (form.elements[n].value) q.set(n, form.elements[n].value); });
      cursors = [];
      location.hash = '#/invocations?' + q.toString();
    });
    var query = new URLSearchParams(params);
    query.set('limit', params.get('limit') || '20');
    if (cursor) query.set('cursor', cursor);
    return api('GET', 'invocations?' + query.toString()).then(function (page) {
      var rows = page.invocations.map(function (i) {
        return el('tr', { 'data-testid': 'invocation-row' }, [
          el('td', { class: 'mono' }, [el('a', { href: '#/invocations/' + i.id, text: i.id })]),
          el('td', { text: i.target }),
          el('td', { text: i.key || '' }),
          el('td', {}, [badge(i.status)]),
          el('td', { text: String(i.attempts) }),
          el('td', { text: i.created_at }),
          el('td', { text: i.last_failure ? i.last_failure.message : (i.result && i.result.kind === 'failure' ? 'failed: ' + i.result.message : '') }),
        ]);
      });
      var pager = el('div', { class: 'pager' }, [
        el('button', { type: 'button', 'data-testid': 'prev', text: 'Previous', disabled: cursors.length === 0, onclick: function () {
          cursors.pop();
          invocations(params, cursors[cursors.length - 1]);
        } }),
        el('button', { type: 'button', 'data-testid': 'next', text: 'Next', disabled: !page.next_cursor, onclick: function () {
          cursors.push(page.next_cursor);
          invocations(params, page.next_cursor);
        } }),
      ]);
      show('Invocations', [form, table(['Id', 'Target', 'Key', 'Status', 'Attempts', 'Created', 'Failure'], rows, 'invocations'), pager]);
    });
  }

  // One invocation ----------------------------------------------------------------------------
  function invocation(id) {
    return api('GET', 'invocations/' + encodeURIComponent(id)).then(function (d) {
      var pairs = [
        ['Target', d.target], ['Key', d.key], ['Status', d.status + (d.cancel_requested ? ' (cancel requested)' : '')],
        ['Deployment', d.deployment_id + (d.pinned ? ' (pinned)' : '')], ['Attempts', String(d.attempts)],
        ['Created', d.created_at], ['Modified', d.modified_at], ['Next attempt', d.next_attempt_at],
        ['Inbox position', d.inbox_position === undefined ? undefined : String(d.inbox_position)],
        ['Last failure', d.last_failure ? '[' + d.last_failure.code + '] ' + d.last_failure.message + ' at ' + d.last_failure.at : undefined],
        ['Result', d.result ? (d.result.kind === 'value' ? 'value' : 'failure [' + d.result.code + '] ' + d.result.message) : undefined],
      ];
      var fields = el('dl', { class: 'fields', 'data-testid': 'fields' }, []);
      pairs.forEach(function (p) {
        if (p[1] === undefined || p[1] === '') return;
        fields.appendChild(el('dt', { text: p[0] }));
        fields.appendChild(el('dd', { text: p[1] }));
      });
      var act = function (mode) {
        return function () {
          if (!confirm(mode + ' ' + id + '?')) return;
          api('DELETE', 'invocations/' + encodeURIComponent(id) + '?mode=' + mode).then(function () { invocation(id); });
        };
      };
      var actions = d.status === 'completed' ? el('div') : el('div', { class: 'actions' }, [
        el('button', { type: 'button', class: 'warn', 'data-testid': 'cancel', text: 'Cancel', onclick: act('cancel') }),
        el('button', { type: 'button', class: 'danger', 'data-testid': 'kill', text: 'Kill', onclick: act('kill') }),
      ]);
      var timeline = el('ol', { class: 'timeline', 'data-testid': 'journal' }, d.journal.map(function (e) {
        var failed = e.result && typeof e.result === 'object';
        var wait = e.waiting_for ? Object.keys(e.waiting_for).map(function (k) { return 'waits for ' + k + ' ' + e.waiting_for[k]; })[0] : '';
        var outcome = failed ? 'failed: ' + e.result.failure.message : (typeof e.result === 'string' ? e.result : '');
        return el('li', { class: e.completed ? (failed ? 'failed' : 'done') : 'pending', 'data-testid': 'journal-entry' }, [
          el('strong', { text: '#' + e.index + ' ' + e.kind }),
          e.name ? ' ' + e.name : '',
          ' ',
          badge(e.completed ? 'done' : 'pending'),
          el('div', { class: 'mono', text: [wait, outcome, e.child_id ? 'child ' + e.child_id : ''].filter(Boolean).join(' · ') }),
        ]);
      }));
      show('Invocation ' + id, [fields, actions, el('h2', { text: 'Journal (' + d.journal.length + ' entries)' }), timeline]);
    });
  }

  function route() {
    var hash = location.hash || '#/services';
    document.querySelectorAll('header nav a').forEach(function (a) {
      a.classList.toggle('active', hash.indexOf(a.getAttribute('href')) === 0);
    });
    var m = /^#\/invocations\/([^?]+)$/.exec(hash);
    var done;
    if (m) done = invocation(decodeURIComponent(m[1]));
    else if (hash.indexOf('#/invocations') === 0) {
      cursors = [];
      done = invocations(new URLSearchParams(hash.split('?')[1] || ''));
    } else done = services();
    done.catch(function (err) { statusLine.textContent = err.message; });
  }

  window.addEventListener('hashchange', route);
  route();
})();
`;
