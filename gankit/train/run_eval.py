"""What a Run measures: the evaluation context its metrics read, and the objective's classifier."""
from __future__ import annotations

import reprlib

import torch

from gankit import config as C
from gankit.process_state import holding
from gankit.train import threads


class RunEvaluation:
    def eval_context(self, rejection: bool = True):
        from gankit.metrics.context import EvalContext
        from gankit.train.inversion import run_inverter
        G = self.modules.get(self.objective.sample_module)
        likelihood = G if hasattr(G, "token_logp") else None   # sequence models: NLL of data under G
        sample = lambda n, seed=None, y=None, c=None: self.sample(n, seed, y=y, c=c,  # noqa: E731
                                                                  rejection=rejection)
        invert = run_inverter(self)
        why = self.objective.no_generator
        if why:
            # every metric of G's samples (or its inversion) meets NotForThisRun: left out of every
            # metric that applies, refused in one line when named (gankit.metrics.evaluate)
            sample = invert = _no_generator(why)
            likelihood = None
        return EvalContext(dataset=self.dataset, settings=self.cfg.eval, seed=self.cfg.seed,
                           device=self.device, step=self.step, sample=sample,
                           likelihood=likelihood, invert=invert, **self.measured_parts())

    def measured_parts(self) -> dict:
        """The parts of the run that gankit.metrics.RUN_PARTS' metrics read, as EvalContext's
        fields (None: the objective lacks it): what its evaluations hand them and what the
        check of eval.metrics at training start and on resume looks at."""
        return {"classify": self.classifier(), "codes": getattr(self.objective, "measured_codes", None),
                "elbo": getattr(self.objective, "heldout_elbo", None)}

    def classifier(self):
        """(x) -> the objective's class logits in eval mode, by chunks, on the CPU; None when
        the objective has no classifier."""
        from gankit.train.objective import Objective
        if type(self.objective).classify is Objective.classify:
            return None

        from gankit.train.sampling import eval_mode_kept

        @torch.no_grad()
        def classify(x: torch.Tensor) -> torch.Tensor:
            with eval_mode_kept(list(self.modules.values())):     # modes back after an error too
                return torch.cat([self.objective.classify(x[i:i + 2000].to(self.device)).float().cpu()
                                  for i in range(0, len(x), 2000)])
        classify.classes_named = self.objective.classes_named
        return classify

    @holding
    def evaluate(self, names: list[str] | None = None, rejection: bool = True,
                 named: bool | None = None, stop=None) -> dict:
        """Every metric that applies (or the ones named); ``rejection=False`` measures G
        itself when a rejection sampler is fitted.  ``named``: someone asked for these metrics,
        so a user's metric that fails is an error (gankit.metrics.evaluate); by default, names
        other than the config's eval.metrics.  Otherwise (training's evaluations, eval.metrics,
        every metric that applies) it is left out with a warning and the others are kept."""
        from gankit.metrics import evaluate
        _refuse_unlisted(names)
        if named is None:
            named = bool(names) and list(names) != list(self.cfg.eval.metrics)
        before = threads.apply(threads.resolve(self.cfg.eval.threads, self.dataset.kind,
                                               self.world.local_size))
        try:
            return evaluate(self.eval_context(rejection), names, named=named, stop=stop)
        finally:
            torch.set_num_threads(before)


def _no_generator(why: str):
    """EvalContext's ``sample`` and ``invert`` for an objective without a trained G."""
    def refuse(*args, **kw):
        from gankit.metrics.base import NotForThisRun
        raise NotForThisRun(why)
    refuse.refused = why     # recon_error: refused by gankit.metrics.run_parts' checks before any work
    return refuse


def _refuse_unlisted(names):
    """``names`` not a list of strings: a string was read letter by letter ("unknown metric 'm'");
    api.evaluate's words (gankit.api._listed: api is above train, so not imported here)."""
    if names is None:
        return
    bad = [names] if not isinstance(names, (list, tuple, set, frozenset)) else [
        v for v in names if not isinstance(v, str)]
    if bad:
        got = (f"the string {names!r}" if isinstance(names, (str, bytes)) else
               f"{type(names).__name__} {reprlib.repr(names)}" if bad[0] is names else
               f"{type(bad[0]).__name__} {reprlib.repr(bad[0])} in it")
        raise C.ConfigError(f'metrics: a list of strings, e.g. ["modes", "jsd"]; got {got}')
