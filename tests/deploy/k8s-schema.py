#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Check Kubernetes manifests against the API's schema, without a cluster.

Usage: k8s-schema.py FILE...

The schema is the one Debian's python3-kubernetes was generated from (the
API's OpenAPI document, Kubernetes 1.22 for Debian 12): one model class per
API type, each listing its fields with their JSON names and types, and
refusing a missing required field. Every document must be an object of a
kind that the API serves at its apiVersion (the client has a create call
for it), and every field, at any depth, must be one the type has, with a
value of its type, as the API server's strict field validation demands.
Also checked, as the API server does: the values of the enumerations used
here, resource quantities, names, the namespace of namespaced kinds (and
none for cluster-wide ones), a DaemonSet's or Deployment's selector against
its template's labels, volume mounts against the pod's volumes, and
Bidirectional mount propagation only in privileged containers. YAML keys
given twice are refused, as the API server's strict decoding does.

Prints "FILE:LINE: PATH: what is wrong" per error and exits 1 when there
is one; otherwise one line per file and exit 0.
"""
import re
import sys

import yaml

try:
    import kubernetes.client as k8s
    from kubernetes.client import Configuration
except ImportError:
    print("k8s-schema: python3-kubernetes is not installed (scripts/install-deps)", file=sys.stderr)
    sys.exit(2)

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"

# Values the API accepts for the enumerations these manifests use (the
# constants of k8s.io/api/core/v1 and apps/v1); the generated models leave
# them as strings.
ENUMS = {
    ("V1HostPathVolumeSource", "type"): {"", "DirectoryOrCreate", "Directory", "FileOrCreate",
                                         "File", "Socket", "CharDevice", "BlockDevice"},
    ("V1VolumeMount", "mountPropagation"): {"None", "HostToContainer", "Bidirectional"},
    ("V1Container", "imagePullPolicy"): {"Always", "Never", "IfNotPresent"},
    ("V1Container", "terminationMessagePolicy"): {"File", "FallbackToLogsOnError"},
    ("V1PodSpec", "dnsPolicy"): {"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"},
    ("V1PodSpec", "restartPolicy"): {"Always", "OnFailure", "Never"},
    ("V1ContainerPort", "protocol"): {"TCP", "UDP", "SCTP"},
    ("V1ServicePort", "protocol"): {"TCP", "UDP", "SCTP"},
    ("V1HTTPGetAction", "scheme"): {"HTTP", "HTTPS"},
    ("V1SeccompProfile", "type"): {"RuntimeDefault", "Unconfined", "Localhost"},
    ("V1Toleration", "operator"): {"Exists", "Equal"},
    ("V1Toleration", "effect"): {"NoSchedule", "PreferNoSchedule", "NoExecute"},
    ("V1DaemonSetUpdateStrategy", "type"): {"RollingUpdate", "OnDelete"},
    ("V1DeploymentStrategy", "type"): {"RollingUpdate", "Recreate"},
    ("V1SecurityContext", "procMount"): {"Default", "Unmasked"},
}

# A resource quantity (k8s.io/apimachinery/pkg/api/resource).
QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[mkMGTPE]|[eE][+-]?\d+)?$")
# Object names: DNS subdomains (RFC 1123), as most kinds require.
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def obj(x):
    """x when it is a map, else an empty one (the schema check said why)."""
    return x if isinstance(x, dict) else {}


def seq(x):
    return x if isinstance(x, list) else []


class Checker:
    def __init__(self, path):
        self.path = path
        self.errors = []
        self.config = Configuration()
        self.config.client_side_validation = True
        self.required_cache = {}

    def err(self, node, where, msg):
        self.errors.append(f"{self.path}:{node.start_mark.line + 1}: {where or '(document)'}: {msg}")

    def required(self, cls):
        """The fields a model refuses to be without (its setters say so)."""
        if cls not in self.required_cache:
            obj = object.__new__(cls)
            obj.local_vars_configuration = self.config
            req = set()
            for attr in cls.openapi_types:
                try:
                    setattr(obj, attr, None)
                except ValueError:
                    req.add(cls.attribute_map[attr])
            self.required_cache[cls] = req
        return self.required_cache[cls]

    # ---- types ----

    def check(self, node, typ, where, owner=None, field=None):
        """node against the client's type string typ."""
        if node.tag == NULL:
            return  # an explicit null leaves a field unset
        m = re.fullmatch(r"list\[(.+)\]", typ)
        if m:
            if not isinstance(node, yaml.SequenceNode):
                return self.err(node, where, f"expected a list ({typ})")
            for i, item in enumerate(node.value):
                self.check(item, m.group(1), f"{where}[{i}]", owner, field)
            return
        m = re.fullmatch(r"dict\(str, (.+)\)", typ)
        if m:
            if not isinstance(node, yaml.MappingNode):
                return self.err(node, where, f"expected a map ({typ})")
            for k, v in self.pairs(node, where):
                if k.tag != STR:
                    self.err(k, where, f"key {k.value!r} is not a string")
                sub = f"{where}.{k.value}"
                if owner == "V1ResourceRequirements":
                    self.quantity(v, sub)
                else:
                    self.check(v, m.group(1), sub)
            return
        if typ == "object":
            return  # anything: int-or-string, raw extensions
        if typ in ("str", "datetime", "date"):
            if node.tag != STR:
                return self.err(node, where, f"expected a string, got {self.shown(node)}")
            allowed = ENUMS.get((owner, field))
            if allowed is not None and node.value not in allowed:
                self.err(node, where, f"{node.value!r} is not one of {sorted(allowed)}")
            return
        if typ == "int":
            if node.tag != INT:
                return self.err(node, where, f"expected an integer, got {self.shown(node)}")
            return
        if typ == "float":
            if node.tag not in (INT, FLOAT):
                return self.err(node, where, f"expected a number, got {self.shown(node)}")
            return
        if typ == "bool":
            if node.tag != BOOL:
                return self.err(node, where, f"expected true or false, got {self.shown(node)}")
            return
        cls = getattr(k8s, typ, None)
        if cls is None or not hasattr(cls, "openapi_types"):
            return self.err(node, where, f"the schema has no type {typ}")
        self.model(node, cls, where)

    def model(self, node, cls, where):
        if not isinstance(node, yaml.MappingNode):
            return self.err(node, where, f"expected an object ({cls.__name__})")
        fields = {json: attr for attr, json in cls.attribute_map.items()}
        seen = set()
        for k, v in self.pairs(node, where):
            sub = f"{where}.{k.value}" if where else k.value
            if k.value not in fields:
                self.err(k, sub, f"unknown field (not in {cls.__name__})")
                continue
            seen.add(k.value)
            self.check(v, cls.openapi_types[fields[k.value]], sub, cls.__name__, k.value)
        for name in sorted(self.required(cls) - seen):
            self.err(node, where, f"missing required field {name} ({cls.__name__})")

    def pairs(self, node, where):
        keys = {}
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                self.err(k, where, "a key that is not a scalar")
                continue
            if k.value in keys:
                self.err(k, where, f"key {k.value!r} given twice (first on line {keys[k.value]})")
                continue
            keys[k.value] = k.start_mark.line + 1
            yield k, v

    def quantity(self, node, where):
        if node.tag not in (STR, INT, FLOAT) or not QUANTITY.match(str(node.value)):
            self.err(node, where, f"{node.value!r} is not a resource quantity")

    @staticmethod
    def shown(node):
        if isinstance(node, yaml.MappingNode):
            return "a map"
        if isinstance(node, yaml.SequenceNode):
            return "a list"
        return f"{node.tag.rsplit(':', 1)[-1]} {node.value!r}"

    # ---- documents ----

    def document(self, doc):
        if not isinstance(doc, yaml.MappingNode):
            return self.err(doc, "", "a document must be an object")
        top = {k.value: v for k, v in doc.value if isinstance(k, yaml.ScalarNode)}
        api, kind = top.get("apiVersion"), top.get("kind")
        if api is None or kind is None:
            return self.err(doc, "", "apiVersion and kind are required")
        group, _, version = api.value.rpartition("/")
        api_class = "".join(p.capitalize() for p in
                            (group.replace(".k8s.io", "").split(".") if group else ["core"]))
        api_class += version.capitalize() + "Api"
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", kind.value).lower()
        cls = None
        namespaced = None
        api_cls = getattr(k8s, api_class, None)
        for ns, call in ((True, f"create_namespaced_{snake}"), (False, f"create_{snake}")):
            fn = getattr(api_cls, call + "_with_http_info", None) if api_cls else None
            m = re.search(r":param (\w+) body:", (fn.__doc__ or "") if fn else "")
            if m:
                cls, namespaced = getattr(k8s, m.group(1), None), ns
                break
        if cls is None:
            return self.err(kind, "kind", f"the API serves no kind {kind.value} at {api.value}")
        self.model(doc, cls, "")
        self.metadata(doc, top.get("metadata"), namespaced, kind.value)
        self.semantics(doc)

    def metadata(self, doc, meta, namespaced, kind):
        if not isinstance(meta, yaml.MappingNode):
            return self.err(meta or doc, "metadata", "metadata is required")
        m = {k.value: v for k, v in meta.value if isinstance(k, yaml.ScalarNode)}
        name = m.get("name")
        if name is None or not isinstance(name, yaml.ScalarNode):
            self.err(meta, "metadata", "metadata.name is required")
        else:
            rule = DNS_LABEL if kind == "Namespace" else DNS_SUBDOMAIN
            if len(name.value) > 253 or not rule.match(name.value):
                self.err(name, "metadata.name", f"{name.value!r} is not a valid name for a {kind}")
        if namespaced and "namespace" not in m:
            self.err(meta, "metadata", f"a {kind} is namespaced: give metadata.namespace")
        if not namespaced and "namespace" in m:
            self.err(m["namespace"], "metadata.namespace", f"a {kind} is not namespaced")

    @staticmethod
    def find(node, *path):
        """The node at path (keys and list indexes) below node, or node."""
        for step in path:
            if isinstance(node, yaml.MappingNode):
                nxt = next((v for k, v in node.value if k.value == step), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
                nxt = node.value[step]
            else:
                nxt = None
            if nxt is None:
                break
            node = nxt
        return node

    def semantics(self, doc):
        """What the API server's validation refuses beyond the schema."""
        data = yaml.safe_load(yaml.serialize(doc))
        spec = obj(data.get("spec"))
        template = spec.get("template")
        if isinstance(template, dict):
            labels = obj(obj(template.get("metadata")).get("labels"))
            sel = obj(obj(spec.get("selector")).get("matchLabels"))
            for k, v in sel.items():
                if labels.get(k) != v:
                    self.err(self.find(doc, "spec", "selector", "matchLabels", k), "spec.selector",
                             f"matchLabels {k}={v} does not match the template's labels")
            self.pod(self.find(doc, "spec", "template", "spec"), obj(template.get("spec")),
                     "spec.template.spec")
        elif data.get("kind") == "Pod":
            self.pod(self.find(doc, "spec"), spec, "spec")

    def pod(self, node, spec, where):
        volumes = {obj(v).get("name") for v in seq(spec.get("volumes"))}
        for kind in ("initContainers", "containers"):
            for i, c in enumerate(seq(spec.get(kind))):
                c = obj(c)
                sub = f"{where}.{kind}[{i}]"
                privileged = obj(c.get("securityContext")).get("privileged") is True
                for j, vm in enumerate(seq(c.get("volumeMounts"))):
                    vm = obj(vm)
                    at = self.find(node, kind, i, "volumeMounts", j)
                    if vm.get("name") not in volumes:
                        self.err(at, f"{sub}.volumeMounts[{j}]", f"no volume named {vm.get('name')!r}")
                    if vm.get("mountPropagation") == "Bidirectional" and not privileged:
                        self.err(at, f"{sub}.volumeMounts[{j}]",
                                 "Bidirectional mount propagation is only for privileged containers")

    def run(self):
        try:
            with open(self.path) as f:
                docs = [d for d in yaml.compose_all(f) if d is not None]
        except (OSError, yaml.YAMLError) as e:
            self.errors.append(f"{self.path}: {e}")
            return 0
        for d in docs:
            self.document(d)
        return len(docs)


def main(argv):
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    failed = False
    for path in argv:
        c = Checker(path)
        n = c.run()
        for e in c.errors:
            print(e)
        if c.errors:
            failed = True
        elif n == 0:
            print(f"{path}: no document")
            failed = True
        else:
            print(f"{path}: {n} documents match the Kubernetes {k8s_version()} schema")
    return 1 if failed else 0


def k8s_version():
    import kubernetes
    major = int(kubernetes.__version__.split(".")[0])
    # The client's major version is the API's minor one (22.x: 1.22).
    return f"1.{major}" if major >= 11 else kubernetes.__version__


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
