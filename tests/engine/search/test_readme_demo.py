"""A regression pin of the README's main job (``aebnas search --dataset digits``, default settings): its
initial design exactly as the code before the engine's redesign made it, then its first qLogNEHVI
proposals. A change that moves the design changes what every user's first search finds: say so when it
is meant. The proposals depend on trained accuracies, whose last bits differ between CPUs (kernel
choice, summation order), so they are checked for what they must be, not bit for bit."""

from aebnas.engine.search import Search, SearchConfig, TrialState

#: (architecture id, MACs budget) of the README demo's initial design (seeded sampling only)
INITIAL_DESIGN = [
    ("39e7bcccabcd691a", 53804.8), ("e019742bb47d7c65", 277395.2), ("41ac658f2db36642", 304768.0),
    ("7ad22c6a0ee97983", 240916.8), ("a6d36b5a618e8cbd", 232899.2), ("680e3dbf731c8b7c", 160902.4),
    ("96947cda8052e675", 304768.0), ("1df67f0afb0af54f", 300156.8), ("7a632ab87019d99a", 304768.0),
    ("f3b7d87f556300d6", 304768.0),
]


def test_the_readme_demo_starts_as_before(digits, tmp_path):
    demo = SearchConfig()
    assert (demo.dataset, demo.budget, demo.batch_size, demo.initial_design) == ("digits", 20, 4, 8)
    # 10 initial (the design pinned before the default became an eighth of the budget: its first 8 are the
    # demo's), then 2 bo proposals; without later rounds and confirmation
    search = Search(tmp_path, data=digits, budget=12, n_init=10, confirm_top=0, device="cpu")
    search.run()
    trials = search.trials(TrialState.COMPLETE)
    assert [(t.arch_id, round(t.macs_budget, 3)) for t in trials[:10]] == INITIAL_DESIGN
    assert {t.source for t in trials[:10]} == {"init"}
    proposed = trials[10:]
    assert [t.source for t in proposed] == ["bo", "bo"]
    assert len({t.arch_id for t in trials}) == 12  # new architectures only
    for trial in proposed:
        assert min(trial.path_macs) <= trial.macs_budget <= search.ref_macs
        assert 0 < trial.predicted.mean < 1 and trial.predicted.std > 0
        assert trial.curve.accuracy_at(trial.macs_budget) == trial.metrics.accuracy_at_macs_budget
