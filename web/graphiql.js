// The secworks GraphiQL page: GraphiQL against /graphql, and a form that obtains a bearer token
// (POST /graphql/tokens with HTTP Basic) and puts it into the Headers tab, whose contents
// GraphiQL sends with every request. Loaded from graphiql.html after React and GraphiQL.
'use strict';

(function () {
  const h = React.createElement;
  const TEMPLATE_TOKEN = '<token>';

  function headersFor(token) {
    return JSON.stringify({ Authorization: 'Bearer ' + token }, null, 2);
  }

  const sendToServer = GraphiQL.createFetcher({ url: '/graphql' });

  // While the Headers tab still holds the template, answer without a request: the server
  // would only refuse it.
  function fetcher(params, opts) {
    const headers = (opts && opts.headers) || {};
    const auth = Object.keys(headers).find((k) => k.toLowerCase() === 'authorization');
    if (!auth || headers[auth] === 'Bearer ' + TEMPLATE_TOKEN) {
      return Promise.resolve({
        errors: [{ message: 'Not sent: no bearer token. Log in above, or put a token in the Headers tab.' }],
      });
    }
    return sendToServer(params, opts);
  }

  function App({ token }) {
    // A new fetcher makes GraphiQL fetch the schema again. Swap it in an effect, after the
    // render that put the new token into the Headers tab, so the schema request carries it.
    const [currentFetcher, setFetcher] = React.useState(null);
    React.useEffect(() => setFetcher(() => (params, opts) => fetcher(params, opts)), [token]);
    if (!currentFetcher) return null;
    return h(GraphiQL, {
      fetcher: currentFetcher,
      headers: headersFor(token || TEMPLATE_TOKEN),
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: 'headers',
      shouldPersistHeaders: false,
      defaultQuery: '{\n  getIpDetails(ip: "127.0.0.2") {\n    ip_address\n    response_code\n    updated_at\n  }\n}\n',
    });
  }

  const root = ReactDOM.createRoot(document.getElementById('graphiql'));
  const render = (token) => root.render(h(App, { token }));
  render(null);

  const form = document.getElementById('login');
  const status = document.getElementById('login-status');
  const revoke = document.getElementById('revoke');
  let token = null;

  function basic(username, password) {
    const bytes = new TextEncoder().encode(username + ':' + password);
    return 'Basic ' + btoa(String.fromCharCode(...bytes));
  }

  function setToken(newToken, message) {
    token = newToken;
    revoke.hidden = !token;
    status.textContent = message;
    render(token);
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const username = form.elements.username.value;
    status.textContent = 'Requesting a token…';
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
        status.textContent = 'No token: ' + (body.error || 'HTTP ' + res.status) + '.';
        return;
      }
      form.elements.password.value = '';
      setToken(body.token, 'Token for ' + username + ' is in the Headers tab.');
    } catch (err) {
      status.textContent = 'No token: ' + err.message + '.';
    }
  });

  revoke.addEventListener('click', async () => {
    try {
      const res = await fetch('/graphql/tokens', {
        method: 'DELETE',
        credentials: 'omit',
        headers: { Authorization: 'Bearer ' + token },
      });
      if (res.status !== 204) {
        status.textContent = 'Revoking failed: HTTP ' + res.status + '.';
        return;
      }
      setToken(null, 'Token revoked.');
    } catch (err) {
      status.textContent = 'Revoking failed: ' + err.message + '.';
    }
  });
})();
