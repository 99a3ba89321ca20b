"""The grader's remote calls (grader/remote.py), against a real sandboxed probe: what crosses from
the grader to the student's code and back, checked against the same computation done locally."""
from __future__ import annotations

import sys

import pytest
import torch
from conftest import ROOT
from torch import nn

sys.path.insert(0, str(ROOT))
from grader import sandbox, stubs  # noqa: E402
from grader.remote import RemoteAnswer, RemoteModule  # noqa: E402
from grader.session import Session  # noqa: E402

from genedu.checks._core import CheckFailed, call  # noqa: E402

pytestmark = pytest.mark.skipif(not sandbox.sandbox_available()[0], reason=sandbox.sandbox_available()[1])

CODE = '''
import torch
from torch import nn

def double(x):
    return 2 * x, {"sum": x.sum()}

def train_step(model, optimizer, x):
    optimizer.zero_grad()
    loss = model(x).pow(2).mean()
    loss.backward()
    optimizer.step()
    return float(loss)

def apply_twice(f, x):
    return f(f(x))

def draw(n, generator=None):
    return torch.randn(n, generator=generator)

def build():
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 2), nn.Tanh())

    def forward(self, x):
        return self.body(x) + 1

def custom():
    return Net()

def mutate(x):
    x.mul_(3)

def signature_only(a, b):
    return a
'''


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    work = tmp_path_factory.mktemp("remote")
    copy = stubs.stubbed_package(sandbox.genedu_folder(), [])
    s = Session(str(work), str(work), str(copy), cell_timeout=20, budget=300)
    outputs = s.execute(CODE)
    assert not [o for o in outputs if o["output_type"] == "error"], outputs
    yield s
    s.close()


def test_results_come_back_as_plain_data_with_their_gradients(session):
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    doubled, extra = RemoteAnswer(session, "double")(x)
    assert torch.equal(doubled.detach(), 2 * x.detach()) and type(doubled) is torch.Tensor
    (doubled.sum() + extra["sum"]).backward()           # d/dx (2 x + x) summed: 3 everywhere
    assert torch.allclose(x.grad, torch.full((3,), 3.0))


def test_a_model_and_its_optimiser_come_back_trained(session):
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    x = torch.randn(8, 3)
    twin = nn.Linear(3, 1)
    twin.load_state_dict(model.state_dict())
    twin_opt = torch.optim.Adam(twin.parameters(), lr=0.1)
    loss = RemoteAnswer(session, "train_step")(model, optimizer, x)
    twin_opt.zero_grad()
    expected = twin(x).pow(2).mean()
    expected.backward()
    twin_opt.step()
    assert loss == pytest.approx(float(expected.detach()), rel=1e-6)
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.allclose(a, b, atol=1e-6) and torch.allclose(a.grad, b.grad, atol=1e-6)
    assert int(optimizer.state_dict()["state"][0]["step"]) == 1


def test_callables_the_probe_cannot_rebuild_are_called_back(session):
    calls = []

    def add_one(t):
        calls.append(1)
        return t + 1

    out = RemoteAnswer(session, "apply_twice")(add_one, torch.zeros(2))
    assert torch.equal(out, torch.full((2,), 2.0)) and len(calls) == 2


def test_a_generator_comes_back_advanced(session):
    g, twin = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    first = RemoteAnswer(session, "draw")(4, generator=g)
    assert torch.equal(first, torch.randn(4, generator=twin))
    assert torch.equal(g.get_state(), twin.get_state())


def test_torch_nn_models_are_rebuilt_from_torch_classes(session):
    model = RemoteAnswer(session, "build")()
    assert type(model) is nn.Sequential and [type(m) for m in model] == [nn.Linear, nn.ReLU, nn.Linear]
    x = torch.randn(5, 3)
    assert model(x).shape == (5, 1)  # torch's own forward, in the grader


def test_models_of_the_notebooks_own_class_run_in_the_probe(session):
    model = RemoteAnswer(session, "custom")()
    assert isinstance(model, RemoteModule)
    body = model.body                                    # rebuilt: torch.nn layers, for inspection
    assert type(body) is nn.Sequential and type(body[0]) is nn.Linear
    x = torch.randn(4, 2)
    assert torch.allclose(model(x), body(x) + 1, atol=1e-6)  # the remote forward, the same weights


def test_in_place_changes_come_back(session):
    x = torch.ones(3)
    RemoteAnswer(session, "mutate")(x)
    assert torch.equal(x, torch.full((3,), 3.0))


def test_failures_read_as_locally(session):
    with pytest.raises(CheckFailed, match="cannot be called as"):
        call(RemoteAnswer(session, "signature_only"), "signature_only", (1,))
    with pytest.raises(CheckFailed, match="does not define `nothing_here`"):
        call(RemoteAnswer(session, "nothing_here"), "nothing_here", ())


def test_gradients_an_answer_computes_on_its_arguments_come_back(session):
    session.execute("def backprop(x):\n    (x ** 2).sum().backward()\n")
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    RemoteAnswer(session, "backprop")(x)
    assert torch.equal(x.grad, torch.tensor([2.0, 4.0]))


def test_train_and_eval_reach_the_model_in_the_probe(session):
    session.execute("class Flag(nn.Module):\n    def forward(self, x):\n        return x * 0 + float(self.training)\n\n"
                    "def flag():\n    return Flag()\n")
    model = RemoteAnswer(session, "flag")()
    assert float(model.eval()(torch.ones(1))) == 0.0
    assert float(model.train()(torch.ones(1))) == 1.0


# --- the grader's own start: what runs before torch is imported -------------------------------------------

def test_running_cells_needs_neither_torch_nor_genedu_in_the_grader():
    """The grader imports torch and genedu while the probe runs the cells (``judge.open_session``):
    the modules that drive the probe and read a cell's reply must not import them first."""
    import subprocess
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from grader import autograde, judge, sandbox, session, stubs, wire\n"
            "reply = wire.load_plain(wire.dumps_plain(('done', [('stream', 'stdout', 'hi\\n')])))\n"
            "assert session._outputs(session._validate(reply)[1])[0]['text'] == 'hi\\n', reply\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'genedu', 'nbgrader'))\n"
            "print(heavy)\n")
    result = subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"imported before any check runs: {result.stdout}"


def test_plain_replies_travel_as_json_and_tensors_with_torch():
    from grader import wire
    plain = ("done", [("display", {"text/plain": "1", "image/png": "iVBOR"}), ("stream", "stdout", "\udcff é")],
             1.5, -0.0, float("inf"), None, True)
    data = wire.dumps_plain(plain)
    assert data[:1] == b"["
    back = wire.load_plain(data)
    assert back == ["done", [["display", {"text/plain": "1", "image/png": "iVBOR"}], ["stream", "stdout", "\udcff é"]],
                    1.5, -0.0, float("inf"), None, True]  # tuples come back as lists
    assert str(back[3]) == "-0.0"
    with_tensor = ("ret", ("T", torch.arange(3.0), False), [], 0)
    data = wire.dumps_plain(with_tensor)
    assert data[:2] == b"PK"
    back = wire.load_plain(data)
    assert torch.equal(back[1][1], torch.arange(3.0))
    for bad in (b"[1, 2", b"[" * 100_000, b"PK\x03\x04 not a zip"):
        with pytest.raises(wire.WireError, match="unreadable"):
            wire.load_plain(bad)


def test_the_early_probe_is_started_with_the_options_of_the_course_config():
    """``python grader/autograde.py`` starts the first probe before nbgrader reads nbgrader_config.py:
    it guesses the options the configuration gives JudgedExecute; a wrong guess would start every
    class's first probe twice."""
    from traitlets.config.loader import PyFileConfigLoader

    from grader import autograde
    from grader.nbgrader_plugins import JudgedExecute
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert JudgedExecute(config=config).options() == autograde.default_options(str(ROOT))
    changed = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    changed.JudgedExecute.memory_limit = 2 ** 30
    assert JudgedExecute(config=changed).options() != autograde.default_options(str(ROOT))
