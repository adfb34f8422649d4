"""A small `helm` command line over the Helm v4 Go SDK, for the test suite.

Run through scripts/helm, which uses the venv scripts/provision-python-tools builds. The Helm
code is Helm's own: PyPI `helm-python-sdk` (import name `helm_python`) ships the Helm v4 SDK
compiled into a shared library and binds it with ctypes. This file only parses the subset of
helm's flags the project uses and prints what helm prints:

  helm.py version
  helm.py lint CHART [-f VALUES]... [--strict] [--kube-version V]
  helm.py template NAME CHART [-n NS] [-f VALUES]... [--set-json K=JSON]...
  helm.py install NAME CHART [-n NS] [-f VALUES]... [--set-json K=JSON]... [--create-namespace] [--wait] [--timeout S]
  helm.py upgrade NAME CHART  (same flags as install)
  helm.py uninstall NAME [-n NS] [--wait] [--timeout S]
  helm.py get manifest NAME [-n NS]
  helm.py status NAME [-n NS]

Exit status 1 with helm's message on any failure, as helm does.
"""

import argparse
import json
import os
import sys

import helm_python as helm
import yaml


def fail(msg):
    print(f"Error: {msg}", file=sys.stderr)
    sys.exit(1)


def deep_merge(base, extra):
    """Later values files win, maps merge key by key (as helm merges -f files)."""
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_merge(base[k], v)
        else:
            base[k] = v
    return base


def values_of(args):
    values = {}
    for path in args.values or []:
        with open(path) as f:
            deep_merge(values, yaml.safe_load(f) or {})
    for item in args.set_json or []:
        key, _, raw = item.partition("=")
        if not key or not raw:
            fail(f"--set-json {item!r}: expected KEY=JSON")
        node = values
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = json.loads(raw)
    return values


def render(args):
    """`helm template`: every rendered manifest, in template path order, as helm prints it."""
    with helm.Chart.load(args.chart) as chart:
        values = values_of(args)
        # Rendering alone does not check values.schema.json; helm template does.
        chart.validate_schema(values)
        manifests = chart.render(values, name=args.name, namespace=args.namespace, is_install=True)
    out = []
    for path in sorted(manifests):
        text = manifests[path]
        if path.endswith("NOTES.txt") or not text.strip():
            continue
        out.append(f"---\n# Source: {path}\n{text.strip()}\n")
    sys.stdout.write("".join(out))


def lint(args):
    opts = {"strict": args.strict or None, "kube_version": args.kube_version}
    report = helm.lint(args.chart, values_of(args) or None, **{k: v for k, v in opts.items() if v is not None})
    severities = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}
    failed = False
    for m in report.get("messages") or []:
        sev = severities.get(m.get("severity"), str(m.get("severity")))
        print(f"[{sev}] {m.get('path')}: {m.get('error')}")
        failed |= m.get("severity") == 3 or (args.strict and m.get("severity") == 2)
    for e in report.get("errors") or []:
        print(f"[ERROR] {e}")
        failed = True
    print(f"1 chart(s) linted, {1 if failed else 0} chart(s) failed")
    sys.exit(1 if failed else 0)


def config(args):
    return helm.Config(namespace=args.namespace)


def install_or_upgrade(args, verb):
    values = values_of(args)
    with config(args) as cfg, helm.Chart.load(args.chart) as chart:
        opts = {"timeout": args.timeout, "wait": "watcher" if args.wait else None}
        if verb == "install":
            rel = cfg.install(chart, args.name, values, create_namespace=args.create_namespace, **opts)
        else:
            rel = cfg.upgrade(chart, args.name, values, **opts)
    print(f"Release \"{args.name}\" {'has been upgraded' if verb == 'upgrade' else 'installed'}.")
    print(f"NAMESPACE: {args.namespace}\nSTATUS: {rel.get('status') or rel.get('info', {}).get('status')}")
    print(f"REVISION: {rel.get('revision') or rel.get('version')}")


def main():
    p = argparse.ArgumentParser(prog="helm", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp, chart=True, name=True):
        if name:
            sp.add_argument("name")
        if chart:
            sp.add_argument("chart")
            sp.add_argument("-f", "--values", action="append")
            sp.add_argument("--set-json", action="append")
        sp.add_argument("-n", "--namespace", default=os.environ.get("HELM_NAMESPACE", "default"))

    sub.add_parser("version")
    sp = sub.add_parser("lint")
    sp.add_argument("chart")
    sp.add_argument("-f", "--values", action="append")
    sp.add_argument("--set-json", action="append")
    sp.add_argument("--strict", action="store_true")
    sp.add_argument("--kube-version")
    common(sub.add_parser("template"))
    for verb in ("install", "upgrade"):
        sp = sub.add_parser(verb)
        common(sp)
        sp.add_argument("--create-namespace", action="store_true")
        sp.add_argument("--wait", action="store_true")
        sp.add_argument("--timeout", type=int, default=300, help="seconds")
    sp = sub.add_parser("uninstall")
    common(sp, chart=False)
    sp.add_argument("--wait", action="store_true")
    sp.add_argument("--timeout", type=int, default=300, help="seconds")
    sp = sub.add_parser("get")
    sp.add_argument("what", choices=["manifest", "values"])
    common(sp, chart=False)
    common(sub.add_parser("status"), chart=False)
    args = p.parse_args()

    try:
        if args.cmd == "version":
            print(f"Helm SDK {helm.helm_sdk_version()} (helm-python-sdk {helm.helm_c_version()})")
        elif args.cmd == "lint":
            lint(args)
        elif args.cmd == "template":
            render(args)
        elif args.cmd in ("install", "upgrade"):
            install_or_upgrade(args, args.cmd)
        elif args.cmd == "uninstall":
            with config(args) as cfg:
                cfg.uninstall(args.name, wait="watcher" if args.wait else None, timeout=args.timeout)
            print(f'release "{args.name}" uninstalled')
        elif args.cmd == "get":
            with config(args) as cfg:
                if args.what == "manifest":
                    sys.stdout.write(cfg.status(args.name)["manifest"])
                else:
                    print(yaml.safe_dump(cfg.get_values(args.name) or {}), end="")
        elif args.cmd == "status":
            with config(args) as cfg:
                print(json.dumps(cfg.status(args.name), indent=2))
    except helm.HelmError as e:
        fail(str(e))


if __name__ == "__main__":
    main()
