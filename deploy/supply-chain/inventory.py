#!/usr/bin/env python3
"""What the `ntsb` binary is built from, from the lock file (`cargo metadata --locked`):

    inventory.py licenses > LICENSES.md        every crate in the binary, grouped by licence
    inventory.py sbom > ntsb.cdx.json          a CycloneDX 1.5 SBOM of the binary
    inventory.py check-licenses LICENSES.md    fails when LICENSES.md is not current

Only normal (not dev or build) dependencies reachable from the `ntsb-cli` package
on x86_64 Linux count: that is what ships in the image. Files vendored from npm
are listed after the crates, each from the `package.json` kept beside it:
`crates/*/assets/vendor/*` ship inside the binary, `crates/*/tests/vendor/*` only
run in tests.
"""
import glob
import json
import os
import subprocess
import sys
import uuid

TARGET = "x86_64-unknown-linux-gnu"
ROOT = "ntsb-cli"


def metadata():
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--offline", "--filter-platform", TARGET],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def shipped(meta):
    """Packages reachable from ROOT through normal dependencies, with ROOT first."""
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = next(p["id"] for p in meta["packages"] if p["name"] == ROOT and p["source"] is None)
    seen, stack = {root}, [root]
    while stack:
        for dep in nodes[stack.pop()]["deps"]:
            if any(k["kind"] is None for k in dep["dep_kinds"]) and dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                stack.append(dep["pkg"])
    return packages[root], sorted((packages[i] for i in seen if i != root), key=lambda p: (p["name"], p["version"]))


def checksums():
    """SHA-256 of each registry crate, from Cargo.lock."""
    sums, name, version = {}, None, None
    for line in open("Cargo.lock"):
        line = line.strip()
        if '"' not in line:
            continue
        if line.startswith("name = "):
            name = line.split('"')[1]
        elif line.startswith("version = "):
            version = line.split('"')[1]
        elif line.startswith("checksum = "):
            sums[(name, version)] = line.split('"')[1]
    return sums


def licenses_md(meta):
    root, deps = shipped(meta)
    ours = [p for p in deps if p["source"] is None]
    theirs = [p for p in deps if p["source"] is not None]
    by_licence = {}
    for p in theirs:
        by_licence.setdefault(p.get("license") or "(none declared)", []).append(p)
    lines = [
        "# Licences of the crates in the `ntsb` binary",
        "",
        "Generated from `Cargo.lock` by `deploy/supply-chain/inventory.py licenses`; CI fails when it is stale.",
        f"The binary (`{root['name']}` and {len(ours)} crates of this workspace) is licensed "
        f"`{root.get('license')}`. It links {len(theirs)} crates from crates.io, under these licences",
        "(`cargo deny check licenses` enforces the allowed list in `deny.toml`):",
        "",
        "| licence | crates |",
        "| --- | --- |",
    ]
    for licence in sorted(by_licence):
        crates = ", ".join(f"{p['name']} {p['version']}" for p in by_licence[licence])
        lines.append(f"| `{licence}` | {crates} |")
    lines += [
        "",
        "## Files vendored from npm",
        "",
        "Each with its package's `LICENSE` and `package.json` beside it.",
        "",
        "| package | licence | files | use |",
        "| --- | --- | --- | --- |",
    ]
    for row in vendored():
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def vendored():
    """(package, licence, files, use) of every npm package vendored under crates/."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    rows = []
    for manifest in sorted(glob.glob(os.path.join(root, "crates/*/*/vendor/*/package.json"))):
        folder = os.path.dirname(manifest)
        with open(manifest) as f:
            package = json.load(f)
        files = sorted(n for n in os.listdir(folder) if n not in ("package.json", "LICENSE"))
        rel = os.path.relpath(folder, root)
        use = "test only" if "/tests/vendor/" in rel + "/" else "inside the binary"
        rows.append((
            f"{package['name']} {package['version']}",
            f"`{package.get('license', '(none declared)')}`",
            ", ".join(f"`{rel}/{n}`" for n in files),
            use,
        ))
    return rows


def sbom(meta):
    root, deps = shipped(meta)
    sums = checksums()

    def component(p):
        c = {
            "type": "application" if p is root else "library",
            "bom-ref": f"pkg:cargo/{p['name']}@{p['version']}",
            "name": p["name"],
            "version": p["version"],
            "purl": f"pkg:cargo/{p['name']}@{p['version']}",
        }
        if p.get("license"):
            c["licenses"] = [{"expression": p["license"]}]
        digest = sums.get((p["name"], p["version"]))
        if digest:
            c["hashes"] = [{"alg": "SHA-256", "content": digest}]
        if p.get("description"):
            c["description"] = p["description"].strip()
        return c

    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    ids = {root["id"]} | {p["id"] for p in deps}
    pkg = {p["id"]: p for p in meta["packages"]}
    dependencies = []
    for i in sorted(ids, key=lambda i: (pkg[i]["name"], pkg[i]["version"])):
        on = sorted({f"pkg:cargo/{pkg[d['pkg']]['name']}@{pkg[d['pkg']]['version']}" for d in nodes[i]["deps"]
                     if d["pkg"] in ids and any(k["kind"] is None for k in d["dep_kinds"])})
        dependencies.append({"ref": f"pkg:cargo/{pkg[i]['name']}@{pkg[i]['version']}", "dependsOn": on})
    # The serial number is derived from the content, so the same lock file gives the same SBOM.
    body = json.dumps([component(p) for p in deps], sort_keys=True)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'ntsb-sbom:' + body)}",
        "version": 1,
        "metadata": {
            "component": component(root),
            "tools": {"components": [{"type": "application", "name": "deploy/supply-chain/inventory.py"}]},
        },
        "components": [component(p) for p in deps],
        "dependencies": dependencies,
    }


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    meta = metadata()
    if sys.argv[1] == "licenses":
        sys.stdout.write(licenses_md(meta))
    elif sys.argv[1] == "sbom":
        json.dump(sbom(meta), sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    elif sys.argv[1] == "check-licenses":
        if open(sys.argv[2]).read() != licenses_md(meta):
            sys.exit(f"{sys.argv[2]} is stale: run `python3 deploy/supply-chain/inventory.py licenses > {sys.argv[2]}`")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
