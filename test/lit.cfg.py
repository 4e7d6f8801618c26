# lit.cfg.py - netjit's lit suite: each test runs the CLI on one stage.
import os
import lit.formats

config.name = "netjit"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".test"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.netjit_obj_root, "test")

# netjit first, then FileCheck and not from LLVM.
path = [os.path.join(config.netjit_obj_root, "bin"), config.llvm_tools_dir,
        config.environment.get("PATH", os.environ.get("PATH", ""))]
config.environment["PATH"] = os.pathsep.join(path)
config.substitutions.append(("%python", "python3"))
# The sources the tests compare against: docs and bundled examples.
src_root = os.path.dirname(config.test_source_root)
config.substitutions.append(("%docs", os.path.join(src_root, "docs")))
config.substitutions.append(("%examples", os.path.join(src_root, "examples")))
config.substitutions.append(("%netjit_build", config.netjit_obj_root))
config.substitutions.append(("%netjit_include", os.path.join(src_root, "include")))

# Tests that run JIT code need a host that can: REQUIRES: jit.
import subprocess
try:
    probe = subprocess.run(
        [os.path.join(config.netjit_obj_root, "bin", "netjit"), "expr", "x",
         "--eval", "1", "--jit"], capture_output=True, timeout=60)
    if probe.returncode == 0:
        config.available_features.add("jit")
except (OSError, subprocess.TimeoutExpired):
    pass

# x86-64 hosts can also JIT for older x86 CPUs (--mcpu=x86-64: SSE2, no FMA).
import platform
if platform.machine() in ("x86_64", "AMD64"):
    config.available_features.add("x86_64-host")

if getattr(config, "netjit_sanitized", False):
    config.available_features.add("sanitized")

# The real Fashion-MNIST (Debian's dataset-fashion-mnist, which ./run
# installs): REQUIRES: fashion-mnist.
fashion = os.environ.get("NETJIT_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
if os.path.exists(os.path.join(fashion, "train-images-idx3-ubyte.gz")):
    config.available_features.add("fashion-mnist")
if "NETJIT_FASHION_MNIST" in os.environ:
    config.environment["NETJIT_FASHION_MNIST"] = os.environ["NETJIT_FASHION_MNIST"]
