"""Every name a component's spec or artifacts use, defined once.

As TFX's `tfx/types/standard_component_specs.py`: the keys of inputs and
outputs, of execution parameters, and of the custom properties executors set
on artifacts (which `model-search trials`, the study store and gc read back).
A component's `component.py` declares its spec with these keys, its
`executor.py` reads its inputs, parameters and outputs with them.
"""

# --- Inputs and outputs (channels) ----------------------------------------------
EXAMPLES_KEY = "examples"
DATASET_SPEC_KEY = "dataset_spec"
# The run's TrialHistory (components/study_history): its id and the earlier runs' trials.
STUDY_HISTORY_KEY = "study_history"
HISTORY_KEY = "history"
HISTORY_PREFIX = "history"
PROPOSALS_KEY = "proposals"
TRIALS_KEY = "trials"
TRIALS_PREFIX = "trials"
MODEL_KEY = "model"
TEACHER_KEY = "teacher"
ENSEMBLE_KEY = "ensemble"
DISTILLED_KEY = "distilled"
LEADERBOARD_KEY = "leaderboard"
CHOSEN_MODEL_KEY = "chosen_model"

# --- Execution parameters -------------------------------------------------------
MODULE_FILE_KEY = "module_file"
# The study's objective (search_algo/objective.py); unset: the task's default.
OBJECTIVE_KEY = "objective"
ROUND_KEY = "round"
STUDY_KEY = "study"
ALGORITHM_KEY = "algorithm"
NUM_TRAINERS_KEY = "num_trainers"
TRIALS_PER_TRAINER_KEY = "trials_per_trainer"
SEED_KEY = "seed"
SEARCH_SPACE_KEY = "search_space"
CODE_VERSION_KEY = "code_version"
WEIGHT_SHARING_KEY = "weight_sharing"
TEACHER_DISTILLATION_KEY = "teacher_distillation"
EARLY_STOPPING_KEY = "early_stopping"
SELECT_KEY = "select"
STUDY_RECORD_KEY = "study_record"
MAX_MEMBERS_KEY = "max_members"
POOL_SIZE_KEY = "pool_size"
WEIGHTS_KEY = "weights_method"  # auto | bagged | greedy | learned | average
TRAINER_INDEX_KEY = "trainer_index"
EPOCHS_KEY = "epochs"
TIME_LIMIT_KEY = "time_limit_seconds"
# The run's wall-clock budget in seconds (search_algo/time_budget.py); 0 or unset: none.
TIME_BUDGET_KEY = "time_budget_seconds"
# The Proposer and trainer nodes that follow this round's (the rounds after it): each still runs, if only to pass through.
NODES_AFTER_KEY = "nodes_after"
TRIAL_CACHE_KEY = "trial_cache_root"
TENSORBOARD_KEY = "tensorboard_root"
MAX_RETRIES_KEY = "max_retries"
MAX_CONSECUTIVE_FAILURES_KEY = "max_consecutive_failures"
RUN_ID_KEY = "run_id"
SOURCE_CONFIG_KEY = "source_config"
INPUT_FINGERPRINT_KEY = "input_fingerprint"
# The distilled student's parameter budget (0: half the best single model).
MAX_PARAMS_KEY = "max_params"
# Multi-fidelity promotion (search_algo/budget_schedule.py): none | asha, its
# reduction factor and bottom rung (0: derived from the epochs).
BUDGET_SCHEDULE_KEY = "budget_schedule"
REDUCTION_FACTOR_KEY = "reduction_factor"
MIN_EPOCHS_KEY = "min_epochs"
# The study's constraints on every candidate (search_algo/constraints.py), as JSON.
CONSTRAINTS_KEY = "constraints"
TEMPERATURE_KEY = "temperature"
ALPHA_KEY = "alpha"
STUDENT_KEY = "student"
AUGMENT_KEY = "augment"

# --- Custom properties of artifacts ----------------------------------------------
TRIALS_PROPERTY = "trials_json"
RUN_ID_PROPERTY = "run_id"
# On Proposals: candidates the constraints turned away before training.
REJECTED_PROPERTY = "rejected_by_constraints"
# On Proposals: how many of this run's trials had failed in a row before the round.
CONSECUTIVE_FAILURES_PROPERTY = "consecutive_failures"
# On TrialResults: why the trainer stopped its share early (too many failures in a row).
STOPPED_PROPERTY = "stopped"
# Set by the ingest on its Examples: identifies the data they hold (what was
# read, how it was split), wherever the artifact lives.
DATA_FINGERPRINT_PROPERTY = "data_fingerprint"
# Set by the SearchEvaluator on the chosen model; read by the validator (TFX's
# Evaluator): the label, the task and the model in production.
LABEL_KEY_PROPERTY = "label_key"
TASK_PROPERTY = "task"
# The URI of the study's model in production (a Model artifact's URI), if any.
BASELINE_MODEL_PROPERTY = "baseline_model_uri"
TEACHER_PROPERTY = "teacher"
ROUND_PROPERTY = "round"
STUDY_PROPERTY = "study"
ALGORITHM_PROPERTY = "algorithm"
COUNT_PROPERTY = "count"
HISTORY_SIZE_PROPERTY = "history_size"
MEMBERS_PROPERTY = "members"
# The ensemble's and the best single model's out-of-fold eval estimates (search_algo/cross_fitting.py), as JSON.
ESTIMATES_PROPERTY = "estimates"
NUM_PARAMS_PROPERTY = "num_params"
STUDENT_TRIAL_PROPERTY = "student_trial"
STUDENT_SOURCE_PROPERTY = "student_source"
# 1 when the student's weights are its best epoch's on the eval loss (time budget).
STUDENT_EPOCH_CHOSEN_ON_EVAL_PROPERTY = "epoch_chosen_on_eval"
CHOSEN_PROPERTY = "chosen"
LEADERBOARD_JSON_PROPERTY = "leaderboard_json"
CANDIDATE_PROPERTY = "candidate"
PUSHED_PROPERTY = "pushed"
PUSHED_DESTINATION_PROPERTY = "pushed_destination"
WEIGHTS_PROPERTY = "weights"
WEIGHTS_METHOD_PROPERTY = "weights_method"
TRAINER_PROPERTY = "trainer"
COMPLETED_PROPERTY = "completed"
FAILED_PROPERTY = "failed"
BEST_SCORE_PROPERTY = "best_score"
RUNS_PROPERTY = "runs"
# On the TrialHistory: when the run started (epoch seconds), where its time budget counts from.
STARTED_AT_PROPERTY = "started_at"
# On Proposals: 1 when the round proposed nothing because the search time was
# spent; on TrialResults, copied from their Proposals, so that the later
# rounds' Proposers know the search has ended.
BUDGET_SPENT_PROPERTY = "budget_spent"
# On TrialResults: proposals not started because the search time was spent.
SKIPPED_PROPERTY = "skipped"
# On the Ensembler's and the Distiller's model: why it was not made (the
# time budget's reserve was too small); no files then.
SKIPPED_REASON_PROPERTY = "skipped_reason"
NAME_PROPERTY = "name"
INPUT_KIND_PROPERTY = "input_kind"
LABEL_PROPERTY = "label"
NUM_CLASSES_PROPERTY = "num_classes"
NUM_FEATURES_PROPERTY = "num_features"
ARCHITECTURE_PROPERTY = "architecture"
