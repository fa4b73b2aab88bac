"""Two-level class hierarchies (fine class -> coarse superclass) kept as data.

Each dataset's hierarchy is a `Hierarchy`: names at both levels and a `fine_to_coarse`
lookup, so a fine prediction maps to its superclass with one tensor index (DESIGN.md §1).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

# Index = fine label (alphabetical fine_label_names), value = coarse label (DESIGN.md §1).
CIFAR100_FINE_TO_COARSE = (
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11,
    6, 11, 5, 10, 7, 6, 13, 15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5,
    5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
    10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
    16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
)
CIFAR100_COARSE_NAMES = (
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates",
    "people", "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
)
CIFAR100_FINE_NAMES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone",
    "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale",
    "willow_tree", "wolf", "woman", "worm",
)

FASHION_MNIST_FINE_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
FASHION_MNIST_COARSE_NAMES = ("tops", "bottoms", "dresses", "outers", "accessories", "shoes")
# Groups the classes people confuse most: shirt vs T-shirt, pullover vs coat (DESIGN.md §1).
FASHION_MNIST_FINE_TO_COARSE = (0, 1, 3, 2, 3, 5, 0, 5, 4, 5)


@dataclass(frozen=True)
class Hierarchy:
    """Fine and coarse class names and the fine -> coarse mapping."""

    fine_names: tuple[str, ...]
    coarse_names: tuple[str, ...]
    fine_to_coarse_ids: tuple[int, ...]

    def __post_init__(self):
        if len(self.fine_to_coarse_ids) != len(self.fine_names):
            raise ValueError("fine_to_coarse needs one entry per fine class")
        used = set(self.fine_to_coarse_ids)
        if used != set(range(len(self.coarse_names))):
            raise ValueError("every coarse class needs at least one fine class, and no other ids")

    @property
    def num_fine(self) -> int:
        return len(self.fine_names)

    @property
    def num_coarse(self) -> int:
        return len(self.coarse_names)

    def fine_to_coarse(self, device=None) -> torch.Tensor:
        """(num_fine,) int64 lookup: `fine_to_coarse()[fine_labels]` gives coarse labels."""
        return torch.tensor(self.fine_to_coarse_ids, dtype=torch.long, device=device)

    def children(self, coarse: int) -> list[int]:
        return [f for f, c in enumerate(self.fine_to_coarse_ids) if c == coarse]


CIFAR100 = Hierarchy(CIFAR100_FINE_NAMES, CIFAR100_COARSE_NAMES, CIFAR100_FINE_TO_COARSE)
FASHION_MNIST = Hierarchy(
    FASHION_MNIST_FINE_NAMES, FASHION_MNIST_COARSE_NAMES, FASHION_MNIST_FINE_TO_COARSE
)


def synthetic(num_coarse: int = 4, fine_per_coarse: int = 3) -> Hierarchy:
    """The synthetic set's hierarchy: fine class f belongs to superclass f // fine_per_coarse."""
    fine = tuple(f"synthetic-c{c}-f{f}" for c in range(num_coarse) for f in range(fine_per_coarse))
    coarse = tuple(f"synthetic-c{c}" for c in range(num_coarse))
    mapping = tuple(i // fine_per_coarse for i in range(num_coarse * fine_per_coarse))
    return Hierarchy(fine, coarse, mapping)
