"""`probegate demo`: every scenario of SPEC section 11 that one process can stage, on loopback.

Layout:
  backends.py, faults.py, dnsserver.py   misbehaving servers and a DNS server (also the tests')
  certs.py      the TLS backends' certificates, made at start-up with `cryptography`
  lab.py        starts one backend per scenario, and the DNS server
  scenarios.py  the embedded configurations, built from the running lab
  traffic.py    requests through the demo listener
  render.py     what the demo prints (text or JSON)
  run.py        the lifecycle: lab → gateways → first results → report → Ctrl-C

Only the command line imports this package; the servers in it import nothing of the gateway.
"""
