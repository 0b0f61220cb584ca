#include "parent_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "temp_dir.h"

namespace hale {
namespace {

// #14 item 3: started without systemd, a daemon creates the one missing directory of its socket or journal
// (as RuntimeDirectory= would) and says what to create when it cannot.
TEST(ParentDirectory, TheOneMissingDirectoryIsMadeWithMode0750) {
  test::TempDir dir("parent");
  const std::string file = dir.path() + "/hale/agent.sock";
  ASSERT_TRUE(ensureParentDirectory(file, "control_socket").ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() + "/hale").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  EXPECT_TRUE(ensureParentDirectory(file, "control_socket").ok()) << "there already: nothing to do";
  EXPECT_TRUE(ensureParentDirectory("agent.sock", "control_socket").ok()) << "the working directory";
}

TEST(ParentDirectory, AChainOfMissingDirectoriesIsNotMadeAndTheErrorSaysWhatToCreate) {
  test::TempDir dir("parent");
  const auto r = ensureParentDirectory(dir.path() + "/var/lib/hale/journal.db", "journal");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cannot create " + dir.path() + "/var/lib/hale for journal"), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("create it, owned by the user this daemon runs as and mode 0750"), std::string::npos)
      << r.error().message;
  const std::string not_dir = dir.writeFile("plain", "x");
  const auto file_in_file = ensureParentDirectory(not_dir + "/agent.sock", "control_socket");
  ASSERT_FALSE(file_in_file.ok());
  EXPECT_NE(file_in_file.error().message.find("is not a directory"), std::string::npos);
}

}  // namespace
}  // namespace hale
