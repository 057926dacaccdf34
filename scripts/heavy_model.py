"""A synthetic depth model with a learned model's cost, for `make bench` (not a real model).

Eight 3x3 convolutions of 32 channels at the model's input size (random weights, fixed seed),
then a mean over channels as relative inverse depth: about 15 GFLOP per frame at 448x252,
the order of Depth Anything V2 Small's. The weights are made here, so nothing is downloaded.

Usage: python scripts/heavy_model.py OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(7)
nodes, inits = [], []
prev, ch = "image", 3
for i in range(8):
    w = (rng.standard_normal((32, ch, 3, 3)) / np.sqrt(ch * 9)).astype(np.float32)
    inits.append(numpy_helper.from_array(w, f"w{i}"))
    nodes.append(helper.make_node("Conv", [prev, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
    prev, ch = f"r{i}", 32
nodes.append(helper.make_node("ReduceMean", [prev], ["depth"], axes=[1], keepdims=1))
inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, "h", "w"])
out = helper.make_tensor_value_info("depth", TensorProto.FLOAT, ["n", 1, "h", "w"])
graph = helper.make_graph(nodes, "heavy", [inp], [out], initializer=inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="stereospot-bench")
model.ir_version = 8
onnx.save(model, sys.argv[1])
