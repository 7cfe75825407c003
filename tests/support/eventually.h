// Waits for a condition the library reaches by itself (a keeper thread
// noticing a closed member, a completion on its way from a process
// context's io thread), against a generous bound; polls a real condition,
// never a fixed sleep standing in for one.
#pragma once

#include <chrono>
#include <thread>

namespace pyctx_test {

template <class Pred>
bool eventually(Pred &&pred, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    auto end = std::chrono::steady_clock::now() + bound;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

}  // namespace pyctx_test
