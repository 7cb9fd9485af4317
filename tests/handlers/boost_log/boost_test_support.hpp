// SPDX-License-Identifier: MIT
// Shared helpers of the Boost.Log suite: a fixture that leaves
// boost::log::core as it found it, and small Boost.Log backends.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <boost/log/attributes/attribute_set.hpp>
#include <boost/log/attributes/value_extraction.hpp>
#include <boost/log/core.hpp>
#include <boost/log/sinks/basic_sink_backend.hpp>
#include <boost/log/sinks/frontend_requirements.hpp>
#include <boost/log/sinks/sync_frontend.hpp>
#include <boost/make_shared.hpp>
#include <boost/shared_ptr.hpp>

namespace offhand::test {

// Every test adds its sinks through add_core_sink(); TearDown removes them
// and restores the core's filter and global attributes.
class BoostCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    core_ = boost::log::core::get();
    saved_globals_ = core_->get_global_attributes();
  }
  void TearDown() override {
    for (const auto& s : added_) core_->remove_sink(s);
    added_.clear();
    core_->reset_filter();
    core_->set_global_attributes(saved_globals_);
    core_->set_logging_enabled(true);
  }
  void add_core_sink(const boost::shared_ptr<boost::log::sinks::sink>& s) {
    core_->add_sink(s);
    added_.push_back(s);
  }

  boost::shared_ptr<boost::log::core> core_;

 private:
  boost::log::attribute_set saved_globals_;
  std::vector<boost::shared_ptr<boost::log::sinks::sink>> added_;
};

// Keeps the Message of each record it consumes and counts flushes;
// optionally sleeps per record (a slow backend).
class RecordingBackend
    : public boost::log::sinks::basic_sink_backend<boost::log::sinks::combine_requirements<
          boost::log::sinks::synchronized_feeding, boost::log::sinks::flushing>::type> {
 public:
  explicit RecordingBackend(std::chrono::nanoseconds delay = {}) : delay_(delay) {}

  void consume(const boost::log::record_view& rec) {
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    std::scoped_lock lock(m_);
    auto msg = boost::log::extract<std::string>("Message", rec);
    messages_.push_back(msg ? msg.get() : std::string("<no message>"));
    records_.push_back(rec);
  }
  void flush() { flushes_.fetch_add(1); }

  std::vector<std::string> messages() const {
    std::scoped_lock lock(m_);
    return messages_;
  }
  std::vector<boost::log::record_view> records() const {
    std::scoped_lock lock(m_);
    return records_;
  }
  int flushes() const { return flushes_.load(); }

 private:
  const std::chrono::nanoseconds delay_;
  mutable std::mutex m_;
  std::vector<std::string> messages_;
  std::vector<boost::log::record_view> records_;
  std::atomic<int> flushes_{0};
};

using RecordingSink = boost::log::sinks::synchronous_sink<RecordingBackend>;

inline boost::shared_ptr<RecordingSink> make_recording_sink(std::chrono::nanoseconds delay = {}) {
  return boost::make_shared<RecordingSink>(boost::make_shared<RecordingBackend>(delay));
}

}  // namespace offhand::test
