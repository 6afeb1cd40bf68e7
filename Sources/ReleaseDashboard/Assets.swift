/// The dashboard's stylesheet and script, served from /assets (the page runs no inline code).
enum Assets {
    static let stylesheet = """
        :root { --ink: #1d2330; --muted: #667085; --line: #d9dee7; --ok: #2f7d4f; --ok-alt: #5aa877; --bad: #c62828;
                --warn: #b7791f; --flight: #2b6cb0; --bg: #f7f8fa; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--ink); background: var(--bg); }
        header { display: flex; align-items: baseline; gap: 16px; padding: 12px 24px; background: #fff; border-bottom: 1px solid var(--line); }
        header h1 { font-size: 18px; margin: 0; }
        .home { font-weight: 700; color: var(--flight); text-decoration: none; }
        .updated { margin-left: auto; color: var(--muted); font-size: 12px; }
        main { padding: 16px 24px; max-width: 1200px; }
        section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin-bottom: 16px; }
        section.stale { opacity: .6; }
        h2 { font-size: 15px; margin: 4px 0 10px; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
        thead th { color: var(--muted); font-weight: 600; font-size: 12px; }
        tr.failed td { background: #fdecea; }
        td.detail { color: var(--muted); max-width: 380px; overflow-wrap: anywhere; }
        caption { text-align: left; font-weight: 600; padding: 6px 0; }
        .badge { display: inline-block; padding: 1px 7px; border-radius: 9px; font-size: 12px; background: #eef1f5; }
        .badge.healthy, .badge.check-passed, .badge.state-live, .badge.state-superseded { background: #e3f4e9; color: var(--ok); }
        .badge.unhealthy, .badge.degraded, .badge.failed, .badge.check-failed, .badge.state-failed, .badge.state-rolled_back,
        .badge.state-rejected { background: #fdecea; color: var(--bad); }
        .badge.verifying, .badge.check-pending, .badge.state-verifying { background: #fff4e0; color: var(--warn); }
        .badge.flight { background: #e6effa; color: var(--flight); }
        .badge.frozen { background: #e6f3fb; color: #1c6a94; }
        .none, .empty { color: var(--muted); }
        .app + .app { margin-top: 18px; }
        dl { display: grid; grid-template-columns: 130px 1fr; gap: 6px 12px; margin: 0; }
        dt { color: var(--muted); }
        dd { margin: 0; overflow-wrap: anywhere; }
        form.at { margin: 10px 0; }
        form.at input { width: 260px; font: inherit; padding: 3px 6px; }
        svg.timeline { width: 100%; height: auto; cursor: crosshair; background: #fff; }
        .lane-label { font-size: 13px; font-weight: 600; fill: var(--ink); }
        .lane-line { stroke: var(--line); }
        .bar rect { fill: var(--ok); }
        .bar.alt rect { fill: var(--ok-alt); }
        .bar.verifying rect { fill: var(--warn); }
        .bar.failed rect { fill: var(--bad); }
        .bar-label { font-size: 11px; fill: #fff; pointer-events: none; }
        .mark path, .mark circle { fill: var(--ink); stroke: #fff; stroke-width: 1; }
        .mark.promote path { fill: var(--flight); }
        .mark.rollback path { fill: #6b46c1; }
        .mark.failed path, .mark.failed circle { fill: var(--bad); }
        .axis line { stroke: var(--muted); }
        .axis text { font-size: 11px; fill: var(--muted); }
        .instant { stroke: #111; stroke-width: 2; stroke-dasharray: 4 3; }
        .legend { color: var(--muted); font-size: 12px; }
        .key { display: inline-block; width: 12px; height: 10px; border-radius: 2px; margin: 0 4px 0 10px; background: var(--ok); }
        .key.verifying { background: var(--warn); }
        .key.failed { background: var(--bad); }
        .mark-key { margin: 0 3px 0 10px; }
        code { background: #eef1f5; padding: 0 4px; border-radius: 3px; }
        """

    static let script = """
        'use strict';
        // Live refresh: each section with data-refresh reloads its fragment every two seconds and
        // replaces its content when it changed; a section that cannot refresh greys out.
        function refresh(section) {
          fetch(section.dataset.refresh, { credentials: 'same-origin', cache: 'no-store' })
            .then(function (response) {
              if (!response.ok) { throw new Error('HTTP ' + response.status); }
              return response.text();
            })
            .then(function (html) {
              if (html !== section.dataset.last) {
                section.innerHTML = html;
                section.dataset.last = html;
              }
              section.classList.remove('stale');
              document.querySelectorAll('[data-updated]').forEach(function (element) {
                element.textContent = 'updated ' + new Date().toISOString().slice(11, 19) + ' UTC';
              });
            })
            .catch(function () { section.classList.add('stale'); });
        }
        document.querySelectorAll('[data-refresh]').forEach(function (section) {
          setInterval(function () { refresh(section); }, Number(section.dataset.interval || 2000));
        });
        // The timeline: a click picks that instant and shows what was live then.
        document.querySelectorAll('svg.timeline').forEach(function (svg) {
          svg.addEventListener('click', function (event) {
            var box = svg.getBoundingClientRect();
            var x = (event.clientX - box.left) * (svg.viewBox.baseVal.width / box.width);
            var left = Number(svg.dataset.left), width = Number(svg.dataset.width);
            if (x < left || x > left + width) { return; }
            var from = Number(svg.dataset.from), to = Number(svg.dataset.to);
            var url = new URL(window.location.href);
            url.searchParams.set('at', new Date(from + (x - left) / width * (to - from)).toISOString());
            window.location.href = url.toString();
          });
        });
        """
}
