"""The results layer: every computed result a page shows, declared once with its key and its cost class.

Pages ask this package and import nothing from ``core``; they lay out what it answers. Each result is a
function whose arguments are its key (the view, the model's settings, an image's pixels) and whose
decorator says what it costs (:mod:`dashboard.results.jobs`):

============================  =======  =========================================================
result                        cost     what it answers
============================  =======  =========================================================
models.dataset                cached   the dataset a model trains on and is attacked with
models.shipped                cached   the weights that came with the app
image.chosen                  instant  the image a page studies, its exact minimal ε, its answer
image.probabilities           instant  a model's class probabilities for an image
image.attacked                instant  the gradient sign step at the slider's ε
image.first_ten               instant  the original experiment's grid of ten
image.class_scores            instant  every class score against ε (the seed's chart)
image.lab_answers             shared   the sign step's and the best attack's ε, the certificate
image.lab_images              instant  the lab's attacked images (sign step, worst case, PGD)
image.lab_fewest              shared   the fewest pixels (an integer program)
image._network_answers        cached   both models' sign step ε, the network's certified bound
image.sign_steps              instant  each model's sign step image
image.network_optimum         shared   the network's best attack (the verifier's bisection)
digit.digit_minimal_epsilons  cached   every test image's exact minimal ε
digit._source_success_curve   cached   the share fooled against ε
digit.fooled_share            instant  the share fooled at exactly the slider's ε
digit.optimal_epsilons        shared   every test image's best attack
digit.source_robustness       shared   accuracy against ε under FGSM, PGD and the worst case
digit.goodfellow_table        shared   Goodfellow et al.'s table on the whole test set
digit.network_digit           shared   every test image on the network
digit.transfer_shares         instant  attacks made on one model shown to the others
digit.shown_to_both           instant  the normal model's attacks shown to the defended one
pairs.all_pairs               shared   every test image toward every other digit
pairs.pair_share              cached   the share fooled at ε per pair
pairs.own_toward              instant  your own digit's minimal ε toward each digit
pairs.test_rows               cached   the 10×10 grid's rows of test images
pairs.test_grid               cached   the 10×10 grid of images (PNG)
pairs.image_grid              instant  the grid with your own digit's row
defenses.test_set_robustness  shared   certified accuracy and radius of the whole test set
defenses.accuracy_under_fgsm  cached   accuracy under the sign step at ε
defenses._defense_charts      cached   both models' robustness charts
defenses.sign_histograms      cached   both models' minimal ε histograms
defenses.template_strip       cached   a model's ten weight templates
defenses.pair_reach           instant  how far ε moves a class's lead, per model
defenses.defense_numbers      instant  clean, certified and attacked accuracy of both models at ε
norms.norm_answers            cached   one image's smallest L2 or L1 change, certificate, attacks
norms.norm_gaps               shared   every test image: each usual attack ÷ the smallest change
norms.noise_image             shared   random noise from one image against the attack
norms.noise_figures           cached   the noise section's two charts
norms.noise_digit             shared   every test image: how much further noise must go, per model
robustness._shipped_table     cached   the network's verified robustness table that came with the app
robustness._live_table        shared   a network's verified robustness table, computed on the server
robustness.network_table      instant  the network's table: the shipped one, else the server's
robustness._shipped_linear    cached   the linear model's rows of the table that came with the app
robustness._linear_rows       shared   the linear model's rows, computed on the server
robustness.linear_table       instant  the linear model's robustness on the same images, exact
lesson.two_templates          instant  the source's and target's templates, the direction beside them
lesson.pair_lever             instant  how far ε moves a pair's gap, and its median gap
============================  =======  =========================================================

A page asks :func:`dashboard.results.models.trained` for each model it shows first: it loads the model, or trains
it in the job system with a progress bar.

The table in code is :data:`dashboard.results.jobs.RESULTS` (a test keeps this one honest).
"""

from dashboard.results.defenses import (
    NAMES,
    accuracy_under_fgsm,
    defense_charts,
    defense_numbers,
    pair_reach,
    sign_histograms,
    template_strip,
    test_set_robustness,
)
from dashboard.results.digit import (
    NETWORK_GRID,
    digit_minimal_epsilons,
    fooled_share,
    goodfellow_table,
    minimal_epsilons,
    network_digit,
    optimal_epsilons,
    shown_to_both,
    source_robustness,
    source_success_curve,
    transfer_shares,
)
from dashboard.results.image import (
    FEWEST_FIRST,
    FEWEST_LIMIT,
    NETWORK_LIMIT,
    Chosen,
    attacked,
    chosen,
    class_scores,
    first_ten,
    lab_answers,
    lab_fewest,
    lab_images,
    network_answers,
    network_optimum,
    probabilities,
    sign_steps,
)
from dashboard.results.jobs import POLL, RESULTS, page_run_started
from dashboard.results.lesson import TwoTemplates, pair_lever, two_templates
from dashboard.results.models import (
    IDX_FOLDERS_VARIABLE,
    SAME_IN_FLOAT32,
    ModelUnavailable,
    NeedsConfirmation,
    NothingToShow,
    configured_idx_folders,
    dataset,
    dataset_label,
    dataset_problem,
    retrain,
    shipped_gap,
    source_images,
    trained,
    usable_dataset,
)
from dashboard.results.norms import (
    ATTACKS,
    DIGIT_DIRECTIONS,
    noise_digit,
    noise_figures,
    noise_image,
    noise_norm,
    norm_answers,
    norm_gaps,
)
from dashboard.results.pairs import all_pairs, image_grid, own_toward, pair_share
from dashboard.results.robustness import LIVE_IMAGES, LIVE_LIMIT, linear_table, network_table

__all__ = [
    "ATTACKS",
    "DIGIT_DIRECTIONS",
    "noise_digit",
    "noise_figures",
    "noise_image",
    "noise_norm",
    "norm_answers",
    "norm_gaps",
    "FEWEST_FIRST",
    "IDX_FOLDERS_VARIABLE",
    "FEWEST_LIMIT",
    "NAMES",
    "NETWORK_GRID",
    "NETWORK_LIMIT",
    "LIVE_IMAGES",
    "LIVE_LIMIT",
    "linear_table",
    "network_table",
    "POLL",
    "RESULTS",
    "Chosen",
    "ModelUnavailable",
    "NeedsConfirmation",
    "NothingToShow",
    "accuracy_under_fgsm",
    "defense_numbers",
    "pair_lever",
    "two_templates",
    "TwoTemplates",
    "all_pairs",
    "attacked",
    "chosen",
    "class_scores",
    "configured_idx_folders",
    "dataset",
    "dataset_label",
    "dataset_problem",
    "defense_charts",
    "digit_minimal_epsilons",
    "first_ten",
    "fooled_share",
    "goodfellow_table",
    "image_grid",
    "lab_answers",
    "lab_fewest",
    "lab_images",
    "minimal_epsilons",
    "network_answers",
    "network_digit",
    "network_optimum",
    "optimal_epsilons",
    "own_toward",
    "page_run_started",
    "pair_reach",
    "pair_share",
    "probabilities",
    "retrain",
    "SAME_IN_FLOAT32",
    "shipped_gap",
    "shown_to_both",
    "sign_histograms",
    "sign_steps",
    "source_images",
    "source_robustness",
    "source_success_curve",
    "template_strip",
    "test_set_robustness",
    "trained",
    "transfer_shares",
    "usable_dataset",
]
