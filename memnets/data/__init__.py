"""Seeded data generators for the tasks of memnets (importable from research code).

Every generator draws from a ``torch.Generator`` that the caller passes; nothing is
downloaded. One submodule per kind of data; each block below re-exports one submodule's
public names.
"""

# Bit sequences of the Neural Turing Machine tasks (copy, repeat copy, associative recall,
# priority sort) and their metrics.
from memnets.data.bits import (
    BATCH_DIMS,
    GENERALISATION,
    REPEAT_COUNT_MEAN,
    REPEAT_COUNT_STD,
    BitBatch,
    associative_recall_batch,
    bits_per_sequence,
    copy_batch,
    masked_bce_loss,
    priority_sort_batch,
    repeat_copy_batch,
    wrong_bits_per_sequence,
)

__all__ = [
    # bits
    "BATCH_DIMS",
    "GENERALISATION",
    "REPEAT_COUNT_MEAN",
    "REPEAT_COUNT_STD",
    "BitBatch",
    "associative_recall_batch",
    "bits_per_sequence",
    "copy_batch",
    "masked_bce_loss",
    "priority_sort_batch",
    "repeat_copy_batch",
    "wrong_bits_per_sequence",
]

# Time series of the forecasting task and the adding problem (long dependencies).
from memnets.data.series import (  # noqa: E402
    ADDING_BASELINE_MSE,
    CONTEXT_STEPS,
    HORIZON_STEPS,
    SERIES_STEPS,
    adding_problem,
    forecast_windows,
    forecasting_split,
    sine_mixture_series,
)

# The shipped public-domain text and character batches (character language model).
from memnets.data.text import CORPORA, CharVocabulary, corpus_path, load_corpus, random_windows, split_text  # noqa: E402

__all__ += [
    # series
    "ADDING_BASELINE_MSE",
    "CONTEXT_STEPS",
    "HORIZON_STEPS",
    "SERIES_STEPS",
    "adding_problem",
    "forecast_windows",
    "forecasting_split",
    "sine_mixture_series",
    # text
    "CORPORA",
    "CharVocabulary",
    "corpus_path",
    "load_corpus",
    "random_windows",
    "split_text",
]

# Trees: builders, and the ListOps and arithmetic tasks (gold trees + strings). The level
# schedule that evaluates a forest is model-side: memnets.nn.trees.
from memnets.data.trees import (  # noqa: E402
    ARITHMETIC_SEQUENCE_VOCAB,
    ARITHMETIC_VOCAB,
    LISTOPS_OPERATORS,
    LISTOPS_SEQUENCE_VOCAB,
    LISTOPS_VOCAB,
    TreeTaskBatch,
    arithmetic_batch,
    balanced_binary_tree,
    chain_tree,
    forest_from_parents,
    listops_batch,
    listops_value,
    tree_from_nested,
    tree_from_string,
)

__all__ += [
    # trees
    "ARITHMETIC_SEQUENCE_VOCAB",
    "ARITHMETIC_VOCAB",
    "LISTOPS_OPERATORS",
    "LISTOPS_SEQUENCE_VOCAB",
    "LISTOPS_VOCAB",
    "TreeTaskBatch",
    "arithmetic_batch",
    "balanced_binary_tree",
    "chain_tree",
    "forest_from_parents",
    "listops_batch",
    "listops_value",
    "tree_from_nested",
    "tree_from_string",
]

# Graph-algorithm tasks: networkx graphs and ground truth as torch_geometric data.
from memnets.data.ngrams import (  # noqa: E402
    NGRAM_LENGTH,
    NGRAM_ORDER,
    NGRAM_PRIOR,
    bayes_optimal_probabilities,
    ngram_batch,
    ngram_contexts,
    ngram_sequences,
    ngram_tables,
    optimal_bits_per_sequence,
)

__all__ += [
    # dynamic N-grams
    "NGRAM_LENGTH",
    "NGRAM_ORDER",
    "NGRAM_PRIOR",
    "bayes_optimal_probabilities",
    "ngram_batch",
    "ngram_contexts",
    "ngram_sequences",
    "ngram_tables",
    "optimal_bits_per_sequence",
]

from memnets.data.graphs import (  # noqa: E402
    CLRS_DIRECTED_EDGE_PROB,
    CLRS_EDGE_PROB,
    bellman_ford_graph,
    bellman_ford_predecessors,
    bfs_graph,
    bfs_predecessors,
    connectivity_graph,
    dfs_graph,
    dfs_predecessors,
    dijkstra_graph,
    dijkstra_predecessors,
    draw_seeds,
    erdos_renyi_graph,
    graph_batch,
    pointer_counts,
    pointer_example,
    shortest_path_annotations,
    shortest_path_graph,
    shortest_path_steps,
)

__all__ += [
    # graphs
    "CLRS_DIRECTED_EDGE_PROB",
    "CLRS_EDGE_PROB",
    "bellman_ford_graph",
    "bellman_ford_predecessors",
    "bfs_graph",
    "bfs_predecessors",
    "connectivity_graph",
    "dfs_graph",
    "dfs_predecessors",
    "dijkstra_graph",
    "dijkstra_predecessors",
    "draw_seeds",
    "erdos_renyi_graph",
    "graph_batch",
    "pointer_counts",
    "pointer_example",
    "shortest_path_annotations",
    "shortest_path_graph",
    "shortest_path_steps",
]

# Graph queries through memory (the DNC's traversal and shortest-path tasks): random
# labelled graphs shown as bit-coded triples, answered in a BitBatch.
from memnets.data.graph_queries import (  # noqa: E402
    GRAPH_QUERY_KINDS,
    GraphQuery,
    answer_step_accuracy,
    decode_triples,
    encode_queries,
    exact_answers,
    query_channels,
    query_data,
    random_graph,
    shortest_path_batch,
    shortest_path_queries,
    traversal_batch,
    traversal_queries,
)

__all__ += [
    # graph queries
    "GRAPH_QUERY_KINDS",
    "GraphQuery",
    "answer_step_accuracy",
    "decode_triples",
    "encode_queries",
    "exact_answers",
    "query_channels",
    "query_data",
    "random_graph",
    "shortest_path_batch",
    "shortest_path_queries",
    "traversal_batch",
    "traversal_queries",
]
