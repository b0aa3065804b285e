"""Train a Neural Turing Machine on the copy task, then look at its memory.

A small NTM (16 memory slots of 8 numbers, a 32-unit LSTM controller) learns to copy
sequences of up to 4 random 8-bit vectors: it reads the vectors, sees a delimiter, and
must write them back. After training, `model.trace` returns the state of every step,
and the figure shows where the write and read heads attended.
"""

import matplotlib

matplotlib.use("Agg")  # write files; no window
import matplotlib.pyplot as plt
import torch

import memnets
from memnets.data import copy_batch, masked_bce_loss, wrong_bits_per_sequence

torch.manual_seed(0)
generator = torch.Generator().manual_seed(0)  # the data's own stream

# input: 8 data bits + 1 delimiter channel; output: the 8 bits
model = memnets.NTM(input_size=9, output_size=8, controller_size=32, memory_size=16, word_size=8)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

for step in range(1, 401):
    batch = copy_batch(16, min_len=1, max_len=4, generator=generator)  # time-major (T, B, C)
    logits, _ = model(batch.inputs)
    loss = masked_bce_loss(logits, batch)  # mean BCE over the answer-phase bits
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
    optimizer.step()
    if step % 100 == 0:
        wrong = wrong_bits_per_sequence(logits.detach(), batch).item()
        print(f"step {step:4d}  loss {loss.item():.4f}  wrong bits per sequence {wrong:.2f}")

# evaluate on fresh sequences of length 4 (32 answer bits each)
model.eval()
with torch.no_grad():
    test = copy_batch(200, length=4, generator=torch.Generator().manual_seed(1))
    logits, _ = model(test.inputs)
    wrong = wrong_bits_per_sequence(logits, test).item()
print(f"fresh sequences of length 4: {wrong:.2f} wrong bits per sequence (chance: 16)")

# where did the heads attend? trace one sequence of length 4
with torch.no_grad():
    one = copy_batch(1, length=4, generator=torch.Generator().manual_seed(2))
    logits, states = model.trace(one.inputs)  # every tensor of states: time first
write = states.write_weights[:, 0, 0]  # (T, N): the write head over the slots, per step
read = states.read_weights[:, 0, 0]  # (T, N): the read head
memory = states.memory[-1, 0]  # (N, W): the memory after the last step

figure, axes = plt.subplots(1, 3, figsize=(11, 3.2))
for ax, image, title in zip(
    axes, (write.T, read.T, memory), ("write weighting", "read weighting", "final memory")
):
    ax.imshow(image, aspect="auto", cmap="viridis")
    ax.set_title(title)
axes[0].set(xlabel="step", ylabel="slot")
axes[1].set(xlabel="step")
axes[2].set(xlabel="word", ylabel="slot")
figure.tight_layout()
figure.savefig("ntm_copy_memory.png", dpi=80)
print("wrote ntm_copy_memory.png")
