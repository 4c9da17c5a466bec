/// The web page's Mustache templates. Kept in the binary, not in resource files, so the
/// packaged daemon needs nothing beside itself. `{{value}}` escapes HTML: names, hardware
/// strings and messages come from git and from agents, and are never trusted as markup.
enum WebTemplates {
    static let all: [String: String] = [
        "head": head, "foot": foot, "servers": servers, "machine": machine, "groups": groups, "plan": plan,
        "source": source, "signIn": signIn, "notFound": notFound, "tasks": tasks,
    ]

    static let head = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
        <title>{{title}} · dploy</title>
        <style>
        body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
        header{background:#1d232a;color:#fff;padding:.6em 1.2em;display:flex;gap:1.5em;align-items:baseline}
        header a{color:#cfe3ff;text-decoration:none}header .source{margin-left:auto;color:#9aa7b4;font-size:.9em}header form{margin:0}
        main{padding:1em 1.2em}h1{font-size:1.3em;margin:.3em 0 .8em}h2{font-size:1.1em;margin:1.4em 0 .5em}
        table{border-collapse:collapse;background:#fff;width:100%}th,td{padding:.35em .6em;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}
        th{background:#eef1f4;font-weight:600}td.num{text-align:right}small,.muted{color:#6b7785}
        .state{font-weight:600}.state-installed{color:#1a7f37}.state-installing{color:#9a6700}.state-failed{color:#cf222e}
        .state-discovered,.state-known,.state-never-seen,.state-pending,.state-skipped{color:#57606a}
        .condition-True{color:#1a7f37}.condition-False{color:#cf222e}.condition-Unknown{color:#57606a}
        .state-succeeded{color:#1a7f37}.state-running,.state-rediscovering{color:#9a6700}
        pre{margin:.2em 0;white-space:pre-wrap;font-size:.9em}.links a{margin-right:.6em}
        .error{background:#ffebe9;border:1px solid #ff8182;padding:.6em;white-space:pre-wrap}
        dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{color:#57606a}dd{margin:0}
        code{font-family:ui-monospace,monospace}
        </style></head>
        <body><header><strong>dploy</strong><nav><a href="/">Servers</a> · <a href="/groups">Groups</a> · <a href="/plan">Plan</a> · <a href="/tasks">Tasks</a> · <a href="/source">Source</a></nav>
        <span class="source">{{sourceLabel}}</span>{{^signingIn}}<form method="post" action="/logout" class="sign-out"><button type="submit">Sign out</button></form>{{/signingIn}}</header><main>

        """

    static let foot = """
        </main></body></html>

        """

    static let servers = """
        {{> head}}<h1>Servers <small>{{count}}</small></h1>
        {{#lastError}}<p class="error" id="last-error">{{.}}</p>{{/lastError}}
        <form method="get" action="/"><p><input type="search" name="q" value="{{query}}" placeholder="name, MAC, address, state, model">
        <button type="submit">Filter</button></p></form>
        {{#paging}}<p id="paging">Page {{current}} of {{pages}}{{#previous}} · <a href="{{.}}" rel="prev">previous</a>{{/previous}}{{#next}} · <a href="{{.}}" rel="next">next</a>{{/next}}</p>{{/paging}}
        <table id="servers"><thead><tr><th>Name</th><th>State</th><th>Model</th><th>Serial</th><th>Address</th>
        <th>Generation</th><th>Power</th><th>Last inventory</th><th>Last event</th><th>Links</th></tr></thead><tbody>
        {{#machines}}<tr data-machine="{{name}}"><td><a href="/machines/{{id}}">{{name}}</a></td>
        <td class="state state-{{stateClass}}">{{state}}</td><td>{{model}}</td><td>{{serial}}</td><td>{{address}}</td>
        <td class="num">{{generation}}</td><td>{{power}}</td><td>{{lastInventory}}</td><td>{{lastEvent}}</td>
        <td class="links">{{#links}}<a href="{{url}}" class="link-{{kind}}" rel="noopener noreferrer" target="_blank">{{label}}</a>{{/links}}</td></tr>
        {{/machines}}</tbody></table>
        {{> foot}}
        """

    static let machine = """
        {{> head}}<h1>{{name}} <small>{{mac}}</small></h1>
        <p class="links">{{#links}}<a href="{{url}}" class="link-{{kind}}" rel="noopener noreferrer" target="_blank">{{label}}</a>{{/links}}</p>
        <h2>Desired {{^inGit}}<small>not in git</small>{{/inGit}}</h2>
        {{#inGit}}<table id="desired"><thead><tr><th>Field</th><th>Value</th><th>From</th></tr></thead><tbody>
        {{#desired}}<tr><td><code>{{field}}</code></td><td>{{value}}</td><td class="muted">{{origin}}</td></tr>{{/desired}}
        </tbody></table>{{/inGit}}
        <h2>Observed</h2>
        <dl id="observed"><dt>State</dt><dd class="state state-{{stateClass}}">{{state}}</dd>
        <dt>Installed generation</dt><dd>{{installed}}</dd><dt>Desired generation</dt><dd>{{generation}}</dd>
        <dt>Last seen</dt><dd>{{lastSeen}}</dd><dt>Address</dt><dd>{{address}}</dd><dt>Power</dt><dd>{{power}}</dd></dl>
        <h2>Conditions</h2>
        <table id="conditions"><thead><tr><th>Condition</th><th>Status</th><th>Reason</th><th>Message</th><th>Observed</th></tr></thead><tbody>
        {{#conditions}}<tr data-condition="{{type}}"><td>{{type}}</td><td class="condition-{{status}}">{{status}}</td><td><code>{{reason}}</code></td><td>{{message}}</td><td>{{observedAt}}</td></tr>{{/conditions}}
        </tbody></table>
        <h2>Hardware {{#lastInventory}}<small>reported {{.}}</small>{{/lastInventory}}</h2>
        {{#hardware}}<dl id="hardware"><dt>Vendor</dt><dd>{{vendor}}</dd><dt>Model</dt><dd>{{model}}</dd><dt>Serial</dt><dd>{{serial}}</dd>
        <dt>BIOS</dt><dd>{{bios}}</dd><dt>CPUs</dt><dd>{{cpus}} {{cpuModel}}</dd><dt>Memory</dt><dd>{{memory}}</dd>
        <dt>Disks</dt><dd>{{#disks}}{{.}}<br>{{/disks}}</dd><dt>NICs</dt><dd>{{#nics}}{{.}}<br>{{/nics}}</dd></dl>{{/hardware}}
        {{^hardware}}<p class="muted">No hardware report yet: the machine reports when it boots the discovery environment.</p>{{/hardware}}
        <h2>Installs</h2>
        {{#hasInstalls}}<table id="installs"><thead><tr><th>Generation</th><th>Started</th><th>Finished</th><th>Failed</th></tr></thead><tbody>
        {{#installs}}<tr><td class="num">{{generation}}</td><td>{{started}}</td><td>{{finished}}</td><td>{{failed}}</td></tr>{{/installs}}
        </tbody></table>{{/hasInstalls}}{{^installs}}<p class="muted">No installs yet.</p>{{/installs}}
        <h2>BMC jobs</h2>
        {{#hasJobs}}<table id="bmc-jobs"><thead><tr><th>Job</th><th>Step</th><th>State</th><th>Progress</th><th>Started</th><th>Finished</th></tr></thead><tbody>
        {{#jobs}}<tr><td class="num">{{id}}</td><td>{{step}}</td><td class="state state-{{state}}">{{state}}</td><td>{{progress}}</td>
        <td>{{started}}</td><td>{{finished}}</td></tr>{{/jobs}}
        </tbody></table>{{/hasJobs}}{{^jobs}}<p class="muted">No firmware or BIOS job has run on this machine.</p>{{/jobs}}
        <h2>Tasks</h2>
        {{#hasTaskRuns}}<table id="task-runs"><thead><tr><th>Task</th><th>Revision</th><th>State</th><th>Started</th><th>Finished</th><th>Exit</th><th>Error</th></tr></thead><tbody>
        {{#taskRuns}}<tr><td><a href="/tasks#task-{{task}}">{{task}}</a></td><td><code>{{revision}}</code></td><td class="state state-{{state}}">{{state}}</td>
        <td>{{started}}</td><td>{{finished}}</td><td class="num">{{exitCode}}</td><td>{{error}}</td></tr>{{/taskRuns}}
        </tbody></table>{{/hasTaskRuns}}{{^taskRuns}}<p class="muted">No task has run on this machine.</p>{{/taskRuns}}
        <h2>Events</h2>
        {{#hasEvents}}<table id="events"><thead><tr><th>When</th><th>What</th><th>Message</th></tr></thead><tbody>
        {{#events}}<tr><td>{{at}}</td><td>{{kind}}</td><td>{{message}}</td></tr>{{/events}}
        </tbody></table>{{/hasEvents}}{{^events}}<p class="muted">No events yet.</p>{{/events}}
        {{> foot}}
        """

    static let groups = """
        {{> head}}<h1>Groups <small>{{count}}</small></h1>
        <table id="groups"><thead><tr><th>Name</th><th>Priority</th><th>Selector</th><th>Members</th><th>Machines</th><th>Defaults</th></tr></thead><tbody>
        {{#groups}}<tr data-group="{{name}}"><td>{{name}}</td><td class="num">{{priority}}</td><td><code>{{selector}}</code></td>
        <td>{{members}}</td><td>{{#machines}}<a href="/machines/{{.}}">{{.}}</a> {{/machines}}</td><td><code>{{defaults}}</code></td></tr>{{/groups}}
        </tbody></table>
        {{> foot}}
        """

    static let plan = """
        {{> head}}<h1>Plan</h1>
        {{#lastRun}}<p id="last-run">Last run {{finishedAt}} ({{trigger}}): <strong>{{result}}</strong>: {{message}}</p>{{/lastRun}}
        {{#roleReason}}<p>Not applying: {{.}}.</p>{{/roleReason}}
        {{#rollouts}}<p class="rollout">{{.}}</p>{{/rollouts}}
        {{#pending}}<p id="plan-summary"><strong>{{summary}}</strong> <span class="muted">from {{source}}</span></p>
        <table id="pending"><thead><tr><th>Machine</th><th>Change</th><th>Why</th><th>Steps</th></tr></thead><tbody>
        {{#machines}}<tr><td>{{machine}}</td><td>{{change}}</td><td>{{#reasons}}{{.}}<br>{{/reasons}}</td><td>{{#actions}}{{.}}<br>{{/actions}}</td></tr>{{/machines}}
        {{#shared}}<tr><td class="muted">shared</td><td></td><td></td><td>{{.}}</td></tr>{{/shared}}
        </tbody></table>{{/pending}}
        {{#pendingTasks}}<h2>Task runs pending</h2><table id="pending-tasks"><thead><tr><th>Task</th><th>Action</th><th>Why</th><th>Targets</th></tr></thead><tbody>
        {{#tasks}}<tr><td>{{task}} <code>@{{revision}}</code></td><td>{{summary}}</td><td>{{reason}}</td><td>{{targets}}</td></tr>{{/tasks}}
        </tbody></table>{{/pendingTasks}}
        {{^pending}}<p id="plan-summary">Nothing pending: the fleet's files match git.</p>{{/pending}}
        {{> foot}}
        """

    static let source = """
        {{> head}}<h1>Source</h1>
        <dl id="source"><dt>Desired state</dt><dd>{{sourceLabel}}</dd>
        {{#git}}<dt>Last fetched</dt><dd>{{fetched}}</dd><dt>Last good</dt><dd>{{good}}</dd><dt>Last applied</dt><dd>{{applied}}</dd>{{/git}}
        <dt>Role</dt><dd>{{role}}{{#roleReason}} ({{.}}){{/roleReason}}</dd><dt>Runs</dt><dd>{{runs}}</dd>
        <dt>Next run</dt><dd>{{nextRun}}</dd></dl>
        {{#hasSites}}<h2>Sites</h2><table id="sites"><thead><tr><th>Site</th><th>Leader</th><th>Last run</th></tr></thead><tbody>
        {{#sites}}<tr data-site="{{name}}"><td>{{name}}</td><td class="{{^led}}error{{/led}}">{{leader}}</td><td>{{lastRun}}</td></tr>{{/sites}}
        </tbody></table>{{/hasSites}}
        {{#sitesError}}<p class="error" id="sites-error">{{.}}</p>{{/sitesError}}
        {{#sourceError}}<h2>Newest commit refused</h2><p class="error" id="source-error">{{.}}</p>{{/sourceError}}
        {{#lastError}}<h2>Last run failed</h2><p class="error">{{.}}</p>{{/lastError}}
        {{> foot}}
        """

    static let tasks = """
        {{> head}}<h1>Tasks <small>{{count}}</small></h1>
        <p class="muted">A task runs once per target for each revision of its spec: editing it in git runs it again; removing it undoes nothing.</p>
        {{#tasks}}<section id="task-{{task}}" data-task="{{task}}"><h2>{{task}} {{#revision}}<code>@{{.}}</code>{{/revision}}{{^inGit}} <small>removed from git</small>{{/inGit}}</h2>
        <p>{{summary}} <span class="muted">{{counts}}</span></p>
        {{#hasRuns}}<table class="task-runs"><thead><tr><th>Machine</th><th>Revision</th><th>State</th><th>Started</th><th>Finished</th><th>Exit</th><th>Error and output</th></tr></thead><tbody>
        {{#runs}}<tr data-machine="{{machine}}"><td><a href="/machines/{{machine}}">{{machine}}</a></td><td><code>{{revision}}</code></td>
        <td class="state state-{{state}}">{{state}}</td><td>{{started}}</td><td>{{finished}}</td><td class="num">{{exitCode}}</td>
        <td>{{error}}{{#output}}<pre>{{.}}</pre>{{/output}}</td></tr>{{/runs}}
        </tbody></table>{{/hasRuns}}</section>{{/tasks}}
        {{^tasks}}<p>No tasks in git, and none has run.</p>{{/tasks}}
        {{> foot}}
        """

    static let signIn = """
        {{> head}}<h1>Sign in</h1>
        <form method="post" action="/login"><p><label>Token <input type="password" name="token" autocomplete="current-password"></label>
        <button type="submit">Sign in</button></p></form>
        <p class="muted">The token is in the file the controller config names as <code>web.tokenFile</code>
        (by default <code>web.token</code> beside the store). Users of the htpasswd file sign in with their browser's password prompt.</p>
        {{> foot}}
        """

    static let notFound = """
        {{> head}}<h1>Not found</h1><p>{{message}}</p>{{> foot}}
        """
}
