// Mounts GraphiQL (the UMD builds index.html loads before this file define
// React, ReactDOM and GraphiQL) on the API of the server that sent the page:
// queries by POST to /graphql, subscriptions over a websocket on the same
// path (graphql-transport-ws). A file, not an inline script: the page's
// Content-Security-Policy allows scripts from this origin only.
/* global React, ReactDOM, GraphiQL */
'use strict';

(() => {
  const url = new URL('/graphql', window.location.href);
  const ws = new URL(url);
  ws.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const fetcher = GraphiQL.createFetcher({ url: url.href, subscriptionUrl: ws.href });
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, { fetcher, defaultEditorToolsVisibility: true }),
  );
})();
