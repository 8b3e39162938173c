/**
 * The web console's page. Static: served as is by the admin endpoint at `/ui` (console-routes.ts);
 * everything it shows comes from the admin API, fetched by console/script.ts in the browser.
 */
export const CONSOLE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Restless console</title>
<link rel="stylesheet" href="ui/console.css">
</head>
<body>
<header>
  <strong>Restless</strong>
  <nav>
    <a href="#/services" data-testid="nav-services">Services</a>
    <a href="#/invocations" data-testid="nav-invocations">Invocations</a>
  </nav>
  <span id="status" role="status" data-testid="status"></span>
</header>
<main id="main" data-testid="main"></main>
<script src="ui/console.js"></script>
</body>
</html>
`;

export const CONSOLE_CSS = String.raw`
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { display: flex; gap: 24px; align-items: center; padding: 10px 20px; background: #1d2330; color: #fff; }
header a { color: #cfd6e4; margin-right: 14px; text-decoration: none; }
header a.active { color: #fff; border-bottom: 2px solid #7aa2ff; }
#status { margin-left: auto; font-size: 12px; color: #ffb4a8; }
main { padding: 16px 20px; }
h2 { font-size: 18px; margin: 4px 0 12px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e3e6ec; vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; color: #5c6577; }
td.mono, .mono { font-family: ui-monospace, monospace; font-size: 12px; }
.methods { color: #5c6577; font-size: 12px; }
form.filters { display: flex; gap: 8px; margin-bottom: 12px; flex-wrap: wrap; }
form.filters input, form.filters select { padding: 4px 6px; }
.pager { margin-top: 10px; display: flex; gap: 8px; }
button { padding: 4px 12px; cursor: pointer; }
button.danger { background: #c0392b; color: #fff; border: 0; border-radius: 3px; }
button.warn { background: #d68910; color: #fff; border: 0; border-radius: 3px; }
dl.fields { display: grid; grid-template-columns: max-content auto; gap: 4px 16px; background: #fff; padding: 12px; }
dl.fields dt { color: #5c6577; }
dl.fields dd { margin: 0; }
ol.timeline { list-style: none; padding: 0; border-left: 3px solid #c9d1e0; margin-left: 10px; }
ol.timeline li { position: relative; margin: 0 0 10px 0; padding: 6px 10px 6px 18px; background: #fff; }
ol.timeline li::before { content: ''; position: absolute; left: -9px; top: 10px; width: 12px; height: 12px; border-radius: 50%; background: #2e86de; }
ol.timeline li.pending::before { background: #f39c12; }
ol.timeline li.failed::before { background: #c0392b; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px; background: #e3e6ec; }
.badge.completed { background: #d4efdf; } .badge.suspended { background: #fdebd0; } .badge.invoked { background: #d6eaf8; }
.actions { margin: 12px 0; display: flex; gap: 8px; }
`;
