#!/usr/bin/env python3
"""Generate StereoSpot's ONNX models.

Default mode writes `stereospot-cues.onnx` next to this script: the project's own hand-designed
monocular-cue depth model (no learned weights; see docs/models.md). It is committed to the repo and
embedded into the binary.

`--test-doubles DIR` writes tiny seeded stand-ins with the same I/O signature as public depth model
exports, plus a deliberately wrong model, for the integration tests:

  depth-anything-v2-small.onnx  like onnx-community/depth-anything-v2-small `onnx/model.onnx`
                                (the file scripts/fetch-depth-anything.sh downloads):
                                `pixel_values` f32 [batch_size,num_channels,height,width]
                                -> `predicted_depth` f32 [batch_size,height,width]
                                (names and dynamic axes of Hugging Face optimum's
                                depth-estimation ONNX config, which produced that export)
  midas-small.onnx              like MiDaS v2.1 small 256 (isl-org/MiDaS release v2_1
                                `model-small.onnx`): f32 [1,3,256,256] -> f32 [1,256,256]
                                (input `0` and output `1195` are the names MiDaS's own tf/
                                scripts use for its ONNX exports; not verified against
                                model-small.onnx itself: the adapter relies on neither name)
  wrong-io.onnx                 `x` f32 [1,1,64,64] -> `y` f32 [1,1,64,64]

Output is fully deterministic: running the script twice gives byte-identical files.
"""

import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PRODUCER = "stereospot-gen-models"
PRODUCER_VERSION = "1"
IR_VERSION = 8  # supported by every ONNX Runtime >= 1.10; enough for opset 17

# Cue model design constants (see docs/models.md).
DOWN = 4  # cues are computed at 1/4 resolution
CONTRAST_K = 5  # box blur of the Laplacian energy (low-res px)
SAT_K = 5  # box blur of the saturation cue (low-res px)
GUIDE_K = 9  # guided filter window (low-res px), ~36 px at full resolution
GUIDE_EPS = 1e-2  # guided filter regulariser (guide is grey in [0,1])
W_VERTICAL = 0.45
W_CONTRAST = 0.40
W_SATURATION = 0.15


class Graph:
    """Small helper that names nodes/tensors deterministically."""

    def __init__(self):
        self.nodes = []
        self.inits = []
        self.n = 0

    def name(self, hint):
        self.n += 1
        return f"{hint}_{self.n}"

    def const(self, hint, array):
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, hint=None, **attrs):
        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"n_{out}", **attrs))
        return out

    def op_multi(self, op_type, inputs, n_out, hint, **attrs):
        outs = [self.name(f"{hint}{i}") for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=f"n_{outs[0]}", **attrs))
        return outs

    def box(self, x, k):
        """Mean over a k x k window, borders averaged over valid pixels only."""
        p = k // 2
        return self.op(
            "AveragePool",
            [x],
            "box",
            kernel_shape=[k, k],
            pads=[p, p, p, p],
            strides=[1, 1],
            count_include_pad=0,
        )


def build_cues_model():
    g = Graph()
    x = "image"  # [N,3,H,W] RGB in [0,1]

    # Grey guide at full resolution: 1x1 conv with Rec.601 luma weights.
    w_grey = g.const("w_grey", np.array([0.299, 0.587, 0.114], np.float32).reshape(1, 3, 1, 1))
    grey = g.op("Conv", [x, w_grey], "grey")

    # Local sharpness / contrast: |Laplacian| energy, pooled to 1/4 resolution then blurred.
    lap_k = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32).reshape(1, 1, 3, 3)
    w_lap = g.const("w_lap", lap_k)
    # Edge padding (not zeros): the frame border must not look like a sharp edge.
    edge_pads = g.const("edge_pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))
    grey_pad = g.op("Pad", [grey, edge_pads], "grey_pad", mode="edge")
    lap = g.op("Conv", [grey_pad, w_lap], "lap")
    lap_abs = g.op("Abs", [lap], "lap_abs")
    down_attrs = dict(kernel_shape=[DOWN, DOWN], strides=[DOWN, DOWN])
    energy = g.op("AveragePool", [lap_abs], "energy", **down_attrs)
    energy = g.box(energy, CONTRAST_K)
    # Normalise by the frame's own mean energy, then squash: mean -> 0.5, flat -> 0, sharp -> ~1.
    mean_e = g.op("ReduceMean", [energy], "mean_e", axes=[2, 3], keepdims=1)
    eps_e = g.const("eps_e", np.array(1e-3, np.float32))
    rel = g.op("Div", [energy, g.op("Add", [mean_e, eps_e])], "rel_e")
    one = g.const("one", np.array(1.0, np.float32))
    contrast = g.op("Div", [rel, g.op("Add", [rel, one])], "contrast")

    # Low-resolution colour image and grey guide.
    x_low = g.op("AveragePool", [x], "x_low", **down_attrs)
    grey_low = g.op("Conv", [x_low, w_grey], "grey_low")

    # Saturation (aerial perspective: distant things are hazier and less saturated).
    cmax = g.op("ReduceMax", [x_low], "cmax", axes=[1], keepdims=1)
    cmin = g.op("ReduceMin", [x_low], "cmin", axes=[1], keepdims=1)
    eps_s = g.const("eps_s", np.array(0.05, np.float32))
    sat = g.op("Div", [g.op("Sub", [cmax, cmin]), g.op("Add", [cmax, eps_s])], "sat")
    sat = g.box(sat, SAT_K)

    # Vertical position prior: row centre (i + 0.5) / h, 0 at the top, 1 at the bottom.
    h_1 = g.op("Shape", [x_low], "h_low", start=2, end=3)
    h_scalar = g.op("Squeeze", [h_1, g.const("ax0", np.array([0], np.int64))], "h_scalar")
    zero_i = g.const("zero_i", np.array(0, np.int64))
    one_i = g.const("one_i", np.array(1, np.int64))
    rows = g.op("Range", [zero_i, h_scalar, one_i], "rows")
    rows_f = g.op("Cast", [rows], "rows_f", to=TensorProto.FLOAT)
    h_f = g.op("Cast", [h_scalar], "h_f", to=TensorProto.FLOAT)
    half = g.const("half", np.array(0.5, np.float32))
    vert = g.op("Div", [g.op("Add", [rows_f, half]), h_f], "vert")
    vert = g.op("Reshape", [vert, g.const("vshape", np.array([1, 1, -1, 1], np.int64))], "vert4")

    # Fixed-weight combination (broadcasts the [1,1,h,1] prior over N and w).
    wv = g.const("w_vert", np.array(W_VERTICAL, np.float32))
    wc = g.const("w_contrast", np.array(W_CONTRAST, np.float32))
    ws = g.const("w_sat", np.array(W_SATURATION, np.float32))
    raw = g.op("Add", [g.op("Mul", [vert, wv]), g.op("Mul", [contrast, wc])], "raw")
    raw = g.op("Add", [raw, g.op("Mul", [sat, ws])], "raw2")

    # Fast guided filter (He & Sun 2015): coefficients at low resolution, guide at full res.
    ip = g.op("Mul", [grey_low, raw], "ip")
    ii = g.op("Mul", [grey_low, grey_low], "ii")
    stack = g.op("Concat", [grey_low, raw, ip, ii], "stack", axis=1)
    means = g.box(stack, GUIDE_K)
    m_i, m_p, m_ip, m_ii = g.op_multi("Split", [means], 4, "m", axis=1)
    cov = g.op("Sub", [m_ip, g.op("Mul", [m_i, m_p])], "cov")
    var = g.op("Sub", [m_ii, g.op("Mul", [m_i, m_i])], "var")
    eps_g = g.const("eps_g", np.array(GUIDE_EPS, np.float32))
    a = g.op("Div", [cov, g.op("Add", [var, eps_g])], "a")
    b = g.op("Sub", [m_p, g.op("Mul", [a, m_i])], "b")
    ab = g.box(g.op("Concat", [a, b], "ab", axis=1), GUIDE_K)
    # Upsample (a, b) to the input size: sizes = [N, 2] ++ [H, W].
    nc = g.op("Shape", [ab], "nc", start=0, end=2)
    hw = g.op("Shape", [x], "hw", start=2, end=4)
    sizes = g.op("Concat", [nc, hw], "sizes", axis=0)
    ab_up = g.op(
        "Resize",
        [ab, "", "", sizes],
        "ab_up",
        mode="linear",
        coordinate_transformation_mode="half_pixel",
    )
    a_up, b_up = g.op_multi("Split", [ab_up], 2, "up", axis=1)
    q = g.op("Add", [g.op("Mul", [a_up, grey]), b_up], "q")
    lo = g.const("lo", np.array(0.0, np.float32))
    hi = g.const("hi", np.array(1.0, np.float32))
    g.nodes.append(helper.make_node("Clip", [q, lo, hi], ["nearness"], name="n_clip"))

    graph = helper.make_graph(
        g.nodes,
        "stereospot_cues",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("nearness", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        initializer=g.inits,
    )
    graph.doc_string = (
        "StereoSpot monocular-cue nearness heuristic: vertical position, local sharpness "
        "(|Laplacian| energy), saturation; fast guided filter on the grey image. "
        "Input RGB in [0,1]; output nearness in [0,1], 1 = nearest. Not a learned model."
    )
    return finish(graph, 17)


def finish(graph, opset):
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name=PRODUCER,
        producer_version=PRODUCER_VERSION,
    )
    model.ir_version = IR_VERSION
    model.model_version = 1
    onnx.checker.check_model(model, full_check=True)
    return model


def seeded(rng, shape, scale):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def build_da_v2_double(rng):
    g = Graph()
    w1 = g.const("w1", seeded(rng, (4, 3, 3, 3), 0.3))
    b1 = g.const("b1", seeded(rng, (4,), 0.1))
    w2 = g.const("w2", np.abs(seeded(rng, (1, 4, 3, 3), 0.3)))
    h = g.op("Relu", [g.op("Conv", ["pixel_values", w1, b1], "c1", pads=[1, 1, 1, 1])])
    d = g.op("Relu", [g.op("Conv", [h, w2], "c2", pads=[1, 1, 1, 1])])
    axes = g.const("axes", np.array([1], np.int64))
    g.nodes.append(helper.make_node("Squeeze", [d, axes], ["predicted_depth"], name="n_sq"))
    graph = helper.make_graph(
        g.nodes,
        "depth_anything_v2_small_test_double",
        [
            helper.make_tensor_value_info(
                "pixel_values",
                TensorProto.FLOAT,
                ["batch_size", "num_channels", "height", "width"],
            )
        ],
        [
            helper.make_tensor_value_info(
                "predicted_depth", TensorProto.FLOAT, ["batch_size", "height", "width"]
            )
        ],
        initializer=g.inits,
    )
    return finish(graph, 14)


def build_midas_double(rng):
    g = Graph()
    w1 = g.const("w1", seeded(rng, (4, 3, 3, 3), 0.3))
    w2 = g.const("w2", np.abs(seeded(rng, (1, 4, 3, 3), 0.3)))
    h = g.op("Relu", [g.op("Conv", ["0", w1], "c1", pads=[1, 1, 1, 1])])
    d = g.op("Relu", [g.op("Conv", [h, w2], "c2", pads=[1, 1, 1, 1])])
    axes = g.const("axes", np.array([1], np.int64))
    g.nodes.append(helper.make_node("Squeeze", [d, axes], ["1195"], name="n_sq"))
    graph = helper.make_graph(
        g.nodes,
        "midas_v21_small_256_test_double",
        [helper.make_tensor_value_info("0", TensorProto.FLOAT, [1, 3, 256, 256])],
        [helper.make_tensor_value_info("1195", TensorProto.FLOAT, [1, 256, 256])],
        initializer=g.inits,
    )
    return finish(graph, 13)


def build_wrong_io(rng):
    g = Graph()
    w = g.const("w", seeded(rng, (1, 1, 3, 3), 0.3))
    g.nodes.append(helper.make_node("Conv", ["x", w], ["y"], name="n_conv", pads=[1, 1, 1, 1]))
    graph = helper.make_graph(
        g.nodes,
        "wrong_io",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 64, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 64, 64])],
        initializer=g.inits,
    )
    return finish(graph, 13)


def write(model, path):
    data = model.SerializeToString(deterministic=True)
    with open(path, "wb") as f:
        f.write(data)
    print(f"wrote {path} ({len(data)} bytes)")


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--out",
        default=os.path.join(here, "stereospot-cues.onnx"),
        help="where to write the cue model (default: next to this script)",
    )
    ap.add_argument(
        "--test-doubles",
        metavar="DIR",
        help="write the test-double models into DIR instead of the cue model",
    )
    args = ap.parse_args(argv)
    if args.test_doubles:
        os.makedirs(args.test_doubles, exist_ok=True)
        rng = np.random.default_rng(20240611)
        write(build_da_v2_double(rng), os.path.join(args.test_doubles, "depth-anything-v2-small.onnx"))
        write(build_midas_double(rng), os.path.join(args.test_doubles, "midas-small.onnx"))
        write(build_wrong_io(rng), os.path.join(args.test_doubles, "wrong-io.onnx"))
    else:
        write(build_cues_model(), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
