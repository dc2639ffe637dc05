"""The examples under each command's `--help` (argparse epilogs, printed as written).

Rules: every command has one; each example is a line an operator can paste, with a comment when
what it does is not obvious from the flags; exit codes are stated once per command.
"""

from __future__ import annotations

MAIN = """\
examples:
  probegate demo --once                         # every failure probegate diagnoses, on loopback
  probegate validate -c examples/gateway.yaml
  probegate explain -c examples/gateway.yaml --json
  probegate run -c examples/gateway.yaml
  probegate backend-health                      # from the gateway running on 127.0.0.1:9090
  probegate backend-health -c gateway.yaml      # probe every target once, no gateway needed
  probegate probe --pool web --settings web-http --path /ready --status 200
  probegate diagnose https://127.0.0.1:8443/healthz --host app.example.test --trusted-root root.pem
  probegate import-arm template.json --parameters template.parameters.json > gateway.yaml

`probegate COMMAND --help` shows each command's options and examples.
"""

VALIDATE = """\
examples:
  probegate validate -c examples/gateway.yaml
  probegate validate -c template.json --parameters template.parameters.json
  probegate validate -c template.json --param gatewayName=edge --param backendPort=8443

exit codes: 0 valid, 1 invalid (every problem on stderr, each with its JSON path), 2 usage
"""

EXPLAIN = """\
examples:
  probegate explain -c examples/gateway.yaml
  probegate explain -c examples/gateway.yaml --json > targets.json
  probegate explain -c template.json --parameters template.parameters.json

exit codes: 0, 1 invalid configuration, 2 usage
"""

IMPORT_ARM = """\
examples:
  probegate import-arm template.json --parameters template.parameters.json > gateway.yaml
  probegate import-arm template.json --param gatewayName=edge -o gateway.yaml
  probegate import-arm main.json --show-ignored   # compiled Bicep; every field left out, one a line
  az network application-gateway show -g RG -n GW > gw.json   # then:
  probegate import-arm gw.json -o gateway.yaml

exit codes: 0, 1 when the result needs attention (said on stderr), 2 usage
"""

RUN = """\
examples:
  probegate run -c examples/gateway.yaml
  probegate run -c /etc/probegate/gateway.yaml --pid-file /run/probegate.pid --log-format json
  probegate run -c examples/gateway.yaml --workers 4   # four worker processes serve traffic
  probegate run -c examples/gateway.yaml --workers 1   # everything in this one process
  probegate reload -c examples/gateway.yaml   # or kill -HUP PID: an invalid file is refused
  kill -USR1 PID      # reopen the access-log file after a rotation moved it
  kill -TERM PID      # stop cleanly

exit codes: 0 after a clean stop, 1 invalid configuration or a port that cannot be bound
"""

DEMO = """\
examples:
  probegate demo                  # start everything; keep running until Ctrl-C
  probegate demo --once           # print where everything listens and the table, then exit
  probegate demo --once --json    # the same as one JSON document (every server, every reason)
  probegate demo --lang ko        # 메시지를 한국어로

Everything binds 127.0.0.x; names resolve through the demo's own DNS server only.
exit codes: 0 (after Ctrl-C, or at once with --once), 1 when the demo cannot start
"""

BACKEND_HEALTH = """\
examples:
  probegate backend-health                                  # the gateway on 127.0.0.1:9090
  probegate backend-health -g /etc/probegate/gateway.yaml   # the gateway running that file
  PROBEGATE_URL=http://127.0.0.1:19090 probegate backend-health
  probegate backend-health --url http://127.0.0.1:9191 --token "$TOKEN"
  probegate backend-health -c gateway.yaml                  # probe every target once, no gateway
  probegate backend-health --watch --interval 1             # redraw until Ctrl-C
  probegate backend-health --json --history                 # the API document, last results too
  probegate backend-health --output powershell              # Get-AzApplicationGatewayBackendHealth shape
  probegate backend-health --lang ko
  probegate backend-health --url http://10.0.0.4:9090 --url http://10.0.0.5:9090   # fleet view
  probegate backend-health --instances fleet.yaml --json    # every instance the file lists
  probegate backend-health --instances fleet.yaml --watch   # redraw the fleet table until Ctrl-C

exit codes: 0 every server Healthy, 1 otherwise, 2 usage (or the admin API cannot be reached)
fleet view (several --url, or --instances): 0 every server Healthy on every instance, 1 a server
not Healthy on some instance (or not configured on all), 2 usage or no instance answered,
3 an instance could not be reached (the others' data is shown)
"""

PROBE = """\
examples:
  probegate probe --pool web --settings web-http
  probegate probe -g gateway.yaml --pool web --settings web-http   # the gateway running that file
  probegate probe --pool web --settings web-http --path /ready --status 200 --status 401
  probegate probe --pool api --settings api-https --host api.example.com --body '"status":"ok"'
  probegate probe -c gateway.yaml --pool web --settings web-http --timeout 5   # no gateway needed

exit codes: 0 every server Healthy, 1 otherwise, 2 usage (an unknown pool or settings, or the
admin API cannot be reached)
"""

DIAGNOSE = """\
examples:
  probegate diagnose http://127.0.0.1:8080/health
  probegate diagnose https://127.0.0.1:8443/healthz --host app.example.test --trusted-root root.pem
  probegate diagnose https://app.internal.test:8443/ --dns-server 127.0.0.53:5353 --expect 200-204
  probegate diagnose https://10.0.0.4/ --sku v1 --trusted-root auth.cer   # v1: authentication certificate
  probegate diagnose -c gateway.yaml --pool web --settings web-https --server 10.0.0.4
  probegate diagnose https://127.0.0.1:8443/ --json

exit codes: 0 healthy, 1 not, 2 usage
"""

RELOAD = """\
examples:
  probegate reload                                # the gateway on 127.0.0.1:9090
  probegate reload -c /etc/probegate/gateway.yaml # the gateway running that file (its admin section)
  probegate reload --url http://127.0.0.1:19090 --token "$TOKEN"
  PROBEGATE_URL=http://127.0.0.1:19090 probegate reload

exit codes: 0 reloaded, 1 refused (every problem on stderr; the running configuration stays),
2 usage (or the admin API cannot be reached)
"""

DASHBOARD = """\
examples:
  probegate dashboard --url http://10.0.0.4:9090 --url http://10.0.0.5:9090
  probegate dashboard --instances fleet.yaml --port 9300      # open the URL it prints
  PROBEGATE_TOKEN=$TOKEN probegate dashboard --url http://127.0.0.1:9090 --url http://127.0.0.1:9091

fleet.yaml:
  instances:
    - {url: http://10.0.0.4:9090, name: east-1, token: ${env:EAST_TOKEN}}
    - {url: http://10.0.0.5:9090, tokenFile: west.token}

The page talks only to this process, which asks every instance; the URL's #token=… is this
dashboard's own token. exit codes: 0 after Ctrl-C, 1 the port cannot be bound, 2 usage
"""

REWRITE_TEST = """\
examples:
  probegate rewrite-test -c gateway.yaml --url http://app.test:8080/shop/list?page=2
  probegate rewrite-test -c gateway.yaml --url http://app.test/ --header 'X-Forwarded-For: 127.0.0.9:5000'
  probegate rewrite-test -c gateway.yaml --url https://app.test/login --json

Nothing is sent: the route, the rules that matched and what the backend would receive are
printed from the file alone.

exit codes: 0 shown, 1 invalid configuration, 2 usage (also a URL no listener of the file takes)
"""
